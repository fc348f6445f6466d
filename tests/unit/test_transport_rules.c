/* Unit tests for the transport's rules against hostile or sloppy clients (src/ssh/transport.c
 * and kex.c; test_transport.c has framing, tampering and limits): the budget of messages
 * before authentication. Driven in memory by the test client (sshtest_client.h) through the
 * engine_pair.h harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_pair.h"
#include "ssh/internal.h"
#include "ssh/ssh.h"

/* ---- the budget of messages before authentication ---- */

/* Sends one more message with send(p) and checks whether the engine took it. */
static void one_more(struct pair *p, void (*send)(struct pair *p), bool ok)
{
	send(p);
	feed(p);
	drain(p);
	if (ok) {
		if (p->disconnects)
			fail_msg("disconnected after %llu packets: %s",
				 (unsigned long long)p->s->rx_packets, p->disc_text);
		s2c(p);
		struct sbuf m;
		while (tc_pop(&p->c, &m))
			sbuf_free(&m);
		return;
	}
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_string_equal(p->disc_text, "too many messages before authentication");
}

static void send_service_request(struct pair *p)
{
	tc_service_request(&p->c, "ssh-userauth");
}

static void send_unknown(struct pair *p)
{
	static const uint8_t msg[] = {199, 1, 2, 3};

	tc_send(&p->c, msg, sizeof(msg));
}

static void send_none(struct pair *p)
{
	tc_auth_none(&p->c, "alice");
}

static void send_ignore(struct pair *p)
{
	tc_ignore(&p->c, 100);
}

/* SSH_MAX_PREAUTH_MESSAGES (64) packets, the key exchange's three included, then one more
 * ends the session, whatever they are. */
static void check_budget(void (*send)(struct pair *p), bool service_first)
{
	struct pair *p = pair_new(NULL, NULL);

	handshake(p);
	assert_int_equal(p->s->rx_packets, 3); /* KEXINIT, KEX_ECDH_INIT, NEWKEYS */
	if (service_first)
		one_more(p, send_service_request, true);
	while (p->s->rx_packets < SSH_MAX_PREAUTH_MESSAGES)
		one_more(p, send, true);
	one_more(p, send, false);
	expect_dead(p);
	pair_free(p);
}

static void test_preauth_budget(void **state)
{
	(void)state;
	assert_int_equal(SSH_MAX_PREAUTH_MESSAGES, 64);
	check_budget(send_service_request, false);
	check_budget(send_unknown, false);
	check_budget(send_none, true);
	check_budget(send_ignore, false);
}

/* The first key exchange's packets count: a client that pads it out with IGNOREs (allowed
 * without strict KEX) is cut off there. */
static void test_preauth_budget_counts_kex(void **state)
{
	struct tc_opts o = {.kex = TC_KEX_NOSTRICT};
	struct pair *p = pair_new(&o, NULL);
	(void)state;

	p->client_err_ok = true;
	tc_send_version(&p->c);
	for (int i = 0; i < SSH_MAX_PREAUTH_MESSAGES; i++)
		tc_ignore(&p->c, 1);
	tc_rekey(&p->c); /* the first KEXINIT: packet 65 */
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_string_equal(p->disc_text, "too many messages before authentication");
	assert_int_equal(p->kex_done, 0);
	pair_free(p);
}

/* A normal login is far below the budget, and after authentication there is none. */
static void test_no_budget_after_auth(void **state)
{
	struct pair *p = connected(NULL, NULL);
	(void)state;

	assert_true(p->s->rx_packets < 10);
	for (int i = 0; i < 4 * SSH_MAX_PREAUTH_MESSAGES; i++) {
		tc_ignore(&p->c, 1);
		tc_global_request(&p->c, "keepalive@openssh.com", false);
	}
	run(p);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preauth_budget),
		cmocka_unit_test(test_preauth_budget_counts_kex),
		cmocka_unit_test(test_no_budget_after_auth),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return rc;
}
