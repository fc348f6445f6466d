/* Channel requests in the connection protocol (src/ssh/conn.c): the SSH_EV_CHANNEL_REQUEST
 * event, answers in request order, names the engine won't pass on as they are, malformed
 * requests, requests after our CLOSE, and what the server sends on its own: extended data
 * within the window and max packet, and exit-status. Driven in memory by the test client
 * through the engine_pair.h harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine_pair.h"
#include "ssh/internal.h"
#include "ssh/ssh.h"

static void expect_reply(struct pair *p, uint8_t msg, uint32_t recipient)
{
	struct sbuf m;
	struct sreader r;

	expect_msg(p, msg, &m, &r);
	assert_int_equal(sreader_u32(&r), recipient);
	assert_int_equal(sreader_left(&r), 0);
	sbuf_free(&m);
}

/* Every request on a confirmed channel is an event with its name, want_reply and bytes; the
 * harness answers FAILURE to those that want an answer, one per request, in order. */
static void test_request_events_and_default_failures(void **state)
{
	struct pair *p = connected(NULL, NULL);
	static const uint8_t cmd[] = {0, 0, 0, 3, 'l', 's', '\n'};
	(void)state;

	open_channel(p, 21, 1000, 1000);
	sbuf_reset(&p->log);
	tc_channel_request_data(&p->c, 0, "exec", true, cmd, sizeof(cmd));
	tc_channel_request(&p->c, 0, "env", false);
	tc_channel_request(&p->c, 0, "pty-req", true);
	run(p);
	sbuf_put_u8(&p->log, 0);
	assert_string_equal((const char *)p->log.data, "REQUEST 0 exec reply=1 len=7\n"
						       "REQUEST 0 env reply=0 len=0\n"
						       "REQUEST 0 pty-req reply=1 len=0\n");
	expect_reply(p, M_CHANNEL_FAILURE, 21);
	expect_reply(p, M_CHANNEL_FAILURE, 21);
	expect_no_msg(p);
	assert_int_equal(p->disconnects, 0);
	/* A request for a channel that does not exist ends the session. */
	tc_channel_request(&p->c, 5, "exec", true);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

/* The event's type_data is exactly the bytes after want_reply. */
static void test_request_data_is_passed_whole(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_event ev;
	static const uint8_t body[] = {0, 0, 0, 4, 's', 'f', 't', 'p', 0xff};
	(void)state;

	open_channel(p, 3, 1000, 1000);
	tc_channel_request_data(&p->c, 0, "subsystem", true, body, sizeof(body));
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_REQUEST);
	assert_string_equal(ev.name, "subsystem");
	assert_true(ev.want_reply);
	assert_ptr_equal(ev.ch, p->ch);
	assert_int_equal(ev.type_len, sizeof(body));
	assert_memory_equal(ev.type_data, body, sizeof(body));
	ssh_channel_request_reply(p->s, ev.ch, true);
	s2c(p);
	expect_reply(p, M_CHANNEL_SUCCESS, 3);
	pair_free(p);
}

/* Answers given later go out in the order given; an answer nobody asked for (want_reply false,
 * or more answers than requests) sends nothing. */
static void test_replies_in_order_and_unsolicited_dropped(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_channel *ch;
	(void)state;

	ch = open_channel(p, 8, 1000, 1000);
	p->hold_requests = true;
	tc_channel_request(&p->c, 0, "shell", true);
	tc_channel_request(&p->c, 0, "window-change", false);
	tc_channel_request(&p->c, 0, "x11-req", true);
	run(p);
	expect_no_msg(p);
	ssh_channel_request_reply(p->s, ch, true);
	ssh_channel_request_reply(p->s, ch, false);
	ssh_channel_request_reply(p->s, ch, true); /* a third: nothing is owed */
	s2c(p);
	expect_reply(p, M_CHANNEL_SUCCESS, 8);
	expect_reply(p, M_CHANNEL_FAILURE, 8);
	expect_no_msg(p);
	pair_free(p);
}

/* A name with a NUL or longer than 64 bytes reaches the host as "(invalid)" and is still
 * answered in its turn; 64 bytes pass as they are. */
static void test_request_names_bounded(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct sbuf b = {0};
	char n64[65], n65[66];
	char want[400];
	(void)state;

	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'b', 65);
	n65[65] = '\0';
	open_channel(p, 4, 1000, 1000);
	sbuf_reset(&p->log);
	sbuf_put_u8(&b, 98);
	sbuf_put_u32(&b, 0);
	sbuf_put_string(&b, "shell\0x", 7);
	sbuf_put_u8(&b, 1);
	tc_send_sbuf(&p->c, &b);
	tc_channel_request(&p->c, 0, n65, true);
	tc_channel_request(&p->c, 0, n64, true);
	run(p);
	sbuf_put_u8(&p->log, 0);
	snprintf(want, sizeof(want),
		 "REQUEST 0 (invalid) reply=1 len=0\nREQUEST 0 (invalid) reply=1 len=0\n"
		 "REQUEST 0 %s reply=1 len=0\n",
		 n64);
	assert_string_equal((const char *)p->log.data, want);
	for (int i = 0; i < 3; i++)
		expect_reply(p, M_CHANNEL_FAILURE, 4);
	expect_no_msg(p);
	pair_free(p);
}

/* A CHANNEL_REQUEST cut short (no want_reply) is a protocol error, as before. */
static void test_malformed_request_disconnects(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct sbuf b = {0};
	(void)state;

	open_channel(p, 4, 1000, 1000);
	sbuf_reset(&p->log);
	sbuf_put_u8(&b, 98);
	sbuf_put_u32(&b, 0);
	sbuf_put_cstring(&b, "shell");
	tc_send_sbuf(&p->c, &b);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	sbuf_put_u8(&p->log, 0);
	assert_null(strstr((const char *)p->log.data, "REQUEST 0"));
	pair_free(p);
}

/* After our CLOSE nothing may follow it: a request is neither reported nor answered, and what
 * the host still tries to send on the channel is dropped. */
static void test_request_after_our_close_dropped(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_channel *ch;
	struct sbuf m;
	struct sreader r;
	(void)state;

	ch = open_channel(p, 6, 1000, 1000);
	ssh_channel_close(p->s, ch);
	s2c(p);
	expect_msg(p, M_CLOSE, &m, &r);
	sbuf_free(&m);
	sbuf_reset(&p->log);
	tc_channel_request(&p->c, 0, "shell", true);
	run(p);
	assert_int_equal(p->log.len, 0);
	ssh_channel_request_reply(p->s, ch, true);
	ssh_channel_send_request(p->s, ch, "exit-status", (const uint8_t *)"\0\0\0\1", 4);
	assert_int_equal(ssh_channel_write_ext(p->s, ch, 1, "x", 1), 0);
	s2c(p);
	expect_no_msg(p);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* Extended data: type 1, split at the peer's max packet, stopped at its window, and counted
 * against the window like data. */
static void test_extended_data_respects_window_and_max_packet(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_channel *ch;
	uint8_t d[300];
	size_t got = 0;
	struct sbuf m;
	struct sreader r;
	(void)state;

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)i;
	ch = open_channel(p, 9, 200, 64);
	assert_int_equal(ssh_channel_write_ext(p->s, ch, SSH_EXTENDED_DATA_STDERR, d, 300), 200);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 0);
	assert_int_equal(ssh_channel_write(p->s, ch, d, 1), 0);
	s2c(p);
	while (got < 200) {
		size_t n;
		expect_msg(p, M_EXTENDED_DATA, &m, &r);
		assert_int_equal(sreader_u32(&r), 9);
		assert_int_equal(sreader_u32(&r), 1);
		const uint8_t *s = sreader_string(&r, &n);
		assert_false(r.err);
		assert_true(n > 0 && n <= 64);
		assert_memory_equal(s, d + got, n);
		got += n;
		sbuf_free(&m);
	}
	expect_no_msg(p);
	/* The window reopens: the rest goes out. */
	tc_window_adjust(&p->c, 0, 1000);
	run(p);
	assert_int_equal(ssh_channel_write_ext(p->s, ch, 1, d + 200, 100), 100);
	pair_free(p);
}

/* exit-status: a CHANNEL_REQUEST with want_reply false and the uint32, also after our EOF. */
static void test_send_exit_status(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_channel *ch;
	struct sbuf m;
	struct sreader r;
	(void)state;

	ch = open_channel(p, 12, 1000, 1000);
	ssh_channel_send_eof(p->s, ch);
	ssh_channel_send_request(p->s, ch, "exit-status", (const uint8_t *)"\0\0\0\1", 4);
	ssh_channel_close(p->s, ch);
	s2c(p);
	expect_msg(p, M_EOF, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_CHANNEL_REQUEST, &m, &r);
	assert_int_equal(sreader_u32(&r), 12);
	expect_str(&r, "exit-status");
	assert_false(sreader_bool(&r));
	assert_int_equal(sreader_u32(&r), 1);
	assert_true(sreader_end(&r));
	sbuf_free(&m);
	expect_msg(p, M_CLOSE, &m, &r);
	sbuf_free(&m);
	expect_no_msg(p);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_events_and_default_failures),
		cmocka_unit_test(test_request_data_is_passed_whole),
		cmocka_unit_test(test_replies_in_order_and_unsolicited_dropped),
		cmocka_unit_test(test_request_names_bounded),
		cmocka_unit_test(test_malformed_request_disconnects),
		cmocka_unit_test(test_request_after_our_close_dropped),
		cmocka_unit_test(test_extended_data_respects_window_and_max_packet),
		cmocka_unit_test(test_send_exit_status),
	};
	if (pair_globals_init() != 0)
		return 1;
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return ret;
}
