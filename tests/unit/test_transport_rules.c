/* Unit tests for the transport's rules against hostile or sloppy clients (src/ssh/transport.c
 * and kex.c; test_transport.c has framing, tampering and limits): the budget of messages
 * before authentication, bytes after the last field of a transport or key exchange message,
 * the client's EXT_INFO, the characters of the identification line, sequence number wraps,
 * and the padding of packets in the clear. Driven in memory by the
 * test client (sshtest_client.h) through the engine_pair.h harness. */
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

/* ---- trailing bytes (OpenSSH: sshpkt_get_end) ---- */

/* Appends a plaintext packet (8-byte blocks, zero padding) carrying payload. */
static void plain_packet(struct sbuf *out, const uint8_t *payload, size_t n)
{
	size_t pad = 8 - (5 + n) % 8;

	if (pad < 4)
		pad += 8;
	sbuf_put_u32(out, (uint32_t)(1 + n + pad));
	sbuf_put_u8(out, (uint8_t)pad);
	sbuf_put(out, payload, n);
	memset(sbuf_append_space(out, pad), 0, pad);
}

/* The client's first KEXINIT, with `extra` bytes after its last field. */
static struct pair *kexinit_with_extra(size_t extra)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sbuf payload = {0};
	struct tc *c = &p->c;

	tc_start(c); /* version line, then the KEXINIT packet */
	const uint8_t *nl = memchr(c->out.data, '\n', c->out.len);
	assert_non_null(nl);
	c->out.len = (size_t)(nl - c->out.data) + 1;
	sbuf_put(&payload, c->i_c.data, c->i_c.len);
	memset(sbuf_append_space(&payload, extra), 0, extra);
	plain_packet(&c->out, payload.data, payload.len);
	sbuf_free(&payload);
	return p;
}

static void test_kexinit_trailing_bytes(void **state)
{
	(void)state;
	struct pair *p = kexinit_with_extra(0); /* the rebuilt packet is fine as it is */
	run(p);
	assert_int_equal(p->c.kex_count, 1);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);

	p = kexinit_with_extra(1);
	p->client_err_ok = true;
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_string_equal(p->disc_text, "bad KEXINIT");
	pair_free(p);
}

/* The client's NEWKEYS with a byte after the message number. */
static void test_newkeys_trailing_bytes(void **state)
{
	static const uint8_t newkeys[] = {21, 0};
	struct pair *p = pair_new(NULL, NULL);
	(void)state;

	tc_start(&p->c);
	s2c(p);		   /* banner, KEXINIT: the client sends KEX_ECDH_INIT */
	c2s_chunked(p, 0); /* the engine answers with KEX_ECDH_REPLY and NEWKEYS */
	s2c(p);		   /* the client's NEWKEYS, in the clear, is all it has to send */
	assert_int_equal(p->c.kex_count, 1);
	sbuf_reset(&p->c.out);
	plain_packet(&p->c.out, newkeys, sizeof(newkeys));
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_string_equal(p->disc_text, "bad NEWKEYS");
	pair_free(p);
}

static void test_service_request_trailing_bytes(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sbuf b = {0};
	(void)state;

	handshake(p);
	sbuf_put_u8(&b, 5);
	sbuf_put_cstring(&b, "ssh-userauth");
	sbuf_put_u8(&b, 0);
	tc_send_sbuf(&p->c, &b);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_string_equal(p->disc_text, "bad SERVICE_REQUEST");
	pair_free(p);

	/* Cut short: the same. */
	p = pair_new(NULL, NULL);
	handshake(p);
	static const uint8_t cut[] = {5, 0, 0, 0, 12, 's', 's', 'h'};
	tc_send(&p->c, cut, sizeof(cut));
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

/* ---- the client's EXT_INFO ---- */

/* We don't offer ext-info-s, so a client's EXT_INFO is answered like an unknown message,
 * before and after authentication. */
static void test_client_ext_info_unimplemented(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sbuf b = {0}, m;
	struct sreader r;
	(void)state;

	handshake(p);
	for (int i = 0; i < 2; i++) {
		uint32_t seq = p->c.tx_seq;
		sbuf_put_u8(&b, 7);
		sbuf_put_u32(&b, 1);
		sbuf_put_cstring(&b, "ext-info-in-auth@openssh.com");
		sbuf_put_cstring(&b, "0");
		tc_send_sbuf(&p->c, &b);
		run(p);
		expect_msg(p, M_UNIMPLEMENTED, &m, &r);
		assert_int_equal(sreader_u32(&r), seq);
		sbuf_free(&m);
		expect_no_msg(p);
		if (i == 0)
			authenticate(p);
	}
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* ---- identification line characters ---- */

static void check_version_line(const char *line, size_t n, bool ok)
{
	struct pair *p = pair_new(NULL, NULL);

	p->client_err_ok = true;
	sbuf_put(&p->c.out, line, n);
	feed(p);
	drain(p);
	if (ok) {
		assert_int_equal(p->disconnects, 0);
		assert_int_equal(p->s->state, ST_KEX);
	} else {
		expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
		assert_string_equal(p->disc_text, "bad identification line");
	}
	pair_free(p);
}

#define VERSION_LINE(s, ok) check_version_line(s, sizeof(s) - 1, ok)

/* Printable US-ASCII only (RFC 4253 §4.2): no control characters, no bytes over 0x7e. */
static void test_version_line_characters(void **state)
{
	(void)state;
	VERSION_LINE("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 ~!\"#$%&'()*+,./:;<=>?@[\\]^_`{|}\r\n",
		     true);
	VERSION_LINE("SSH-2.0-a\tb\r\n", false);
	VERSION_LINE("SSH-2.0-x\x1b[2J\r\n", false);
	VERSION_LINE("SSH-2.0-caf\xc3\xa9\r\n", false);
	VERSION_LINE("SSH-2.0-a\rb\r\n", false);
	VERSION_LINE("SSH-2.0-a\r\r\n", false);
	VERSION_LINE("SSH-2.0-a\x7f\r\n", false);
	VERSION_LINE("SSH-2.0-a\x01\n", false);
	VERSION_LINE("SSH-2.0-a\0b\r\n", false);
	VERSION_LINE("SSH-2.0-a\x80\n", false);
}

/* ---- sequence number wraps ---- */

/* The engine's incoming sequence number reaches 2^32 - 1 during the first key exchange:
 * the packet after it ends the session, with or without strict KEX. */
static void test_seq_wrap_in_first_kex(void **state)
{
	static const char *const kex[] = {TC_KEX_DEFAULT, TC_KEX_NOSTRICT};
	(void)state;

	for (int i = 0; i < 2; i++) {
		struct tc_opts o = {.kex = kex[i]};
		struct pair *p = pair_new(&o, NULL);
		p->client_err_ok = true;
		p->s->rx_seq = UINT32_MAX; /* in the clear: nothing else depends on it */
		tc_start(&p->c);
		feed(p);
		expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
		assert_string_equal(p->disc_text, "sequence number wrapped");
		pair_free(p);

		/* Outgoing: the engine's KEX_ECDH_REPLY takes 2^32 - 1; it sends nothing after. */
		p = pair_new(&o, NULL);
		p->client_err_ok = true;
		p->s->tx_seq = UINT32_MAX;
		tc_start(&p->c);
		s2c(p);
		feed(p);
		drain(p);
		assert_int_equal(p->disconnects, 1);
		assert_string_equal(p->disc_text, "sequence number wrapped");
		assert_true(ssh_closed(p->s));
		size_t n;
		ssh_out_data(p->s, &n);
		assert_true(n > 0); /* KEX_ECDH_REPLY, and no NEWKEYS, no DISCONNECT */
		assert_int_equal(tc_input(&p->c, ssh_out_data(p->s, &n), n), 0);
		assert_int_equal(p->c.kex_count, 0);
		assert_int_equal(tc_queued(&p->c), 0);
		pair_free(p);
	}
}

/* After the first key exchange: under strict KEX (numbers restart at each NEWKEYS) a wrap is
 * 2^32 packets under one set of keys and ends the session; without strict KEX the number
 * wraps on, as RFC 4253 §6.4 says. Both directions. */
static void check_seq_wrap(bool strict, bool incoming)
{
	struct tc_opts o = {.kex = strict ? TC_KEX_DEFAULT : TC_KEX_NOSTRICT};
	struct pair *p = connected(&o, NULL);
	struct sbuf m;
	struct sreader r;

	assert_int_equal(p->c.strict, strict);
	if (incoming)
		p->s->rx_seq = p->c.tx_seq = UINT32_MAX;
	else
		p->s->tx_seq = p->c.rx_seq = UINT32_MAX;
	tc_global_request(&p->c, "keepalive@openssh.com", true);
	feed(p);
	drain(p);
	if (!strict) {
		for (int i = 0; i < 3; i++) {
			s2c(p);
			expect_msg(p, M_REQUEST_FAILURE, &m, &r);
			sbuf_free(&m);
			tc_global_request(&p->c, "keepalive@openssh.com", true);
			feed(p);
			drain(p);
		}
		assert_int_equal(p->disconnects, 0);
		assert_string_equal(p->c.err, "");
		pair_free(p);
		return;
	}
	if (incoming) {
		expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	} else {
		/* The reply takes number 2^32 - 1; nothing can follow it, not even DISCONNECT. */
		assert_int_equal(p->disconnects, 1);
		assert_true(ssh_closed(p->s));
		s2c(p);
		expect_msg(p, M_REQUEST_FAILURE, &m, &r);
		sbuf_free(&m);
		expect_no_msg(p);
		assert_string_equal(p->c.err, "");
	}
	assert_string_equal(p->disc_text, "sequence number wrapped");
	pair_free(p);
}

static void test_seq_wrap_after_kex(void **state)
{
	(void)state;
	check_seq_wrap(true, true);
	check_seq_wrap(true, false);
	check_seq_wrap(false, true);
	check_seq_wrap(false, false);
}

/* ---- padding in the clear ---- */

/* Whether bytes b[0..n) can be consecutive outputs of the engine's cheap padding generator
 * (xorshift64, the low byte of each new state; transport.c pad_byte) from some state: every
 * output bit is a GF(2)-linear function of the 64 bits of the state, so this solves the
 * linear system by Gaussian elimination. 12 random bytes fit with probability 2^-32. */
static bool fits_xorshift(const uint8_t *b, size_t n)
{
	uint64_t st[64]; /* st[j]: the state bits whose sum is bit j of the current state */
	uint64_t rows[8 * 64];
	uint8_t rhs[8 * 64];
	size_t m = 0;

	for (int j = 0; j < 64; j++)
		st[j] = (uint64_t)1 << j;
	for (size_t i = 0; i < n && m + 8 <= sizeof(rhs); i++) {
		uint64_t t[64];
		memcpy(t, st, sizeof(t)); /* x ^= x << 13 */
		for (int j = 13; j < 64; j++)
			st[j] = t[j] ^ t[j - 13];
		memcpy(t, st, sizeof(t)); /* x ^= x >> 7 */
		for (int j = 0; j + 7 < 64; j++)
			st[j] = t[j] ^ t[j + 7];
		memcpy(t, st, sizeof(t)); /* x ^= x << 17 */
		for (int j = 17; j < 64; j++)
			st[j] = t[j] ^ t[j - 17];
		for (int k = 0; k < 8; k++) {
			rows[m] = st[k];
			rhs[m++] = (b[i] >> k) & 1;
		}
	}
	size_t rank = 0;
	for (int col = 0; col < 64 && rank < m; col++) {
		uint64_t bit = (uint64_t)1 << col;
		size_t piv = rank;
		while (piv < m && !(rows[piv] & bit))
			piv++;
		if (piv == m)
			continue;
		uint64_t tr = rows[piv];
		uint8_t tb = rhs[piv];
		rows[piv] = rows[rank];
		rhs[piv] = rhs[rank];
		rows[rank] = tr;
		rhs[rank] = tb;
		for (size_t i = 0; i < m; i++) {
			if (i != rank && (rows[i] & bit)) {
				rows[i] ^= rows[rank];
				rhs[i] ^= rhs[rank];
			}
		}
		rank++;
	}
	for (size_t i = rank; i < m; i++) {
		if (rhs[i]) /* 0 = 1: no state gives these bytes */
			return false;
	}
	return true;
}

/* Appends the padding of the plaintext packets at the start of p[0..n) to pad, up to and
 * including the first one carrying message `last`. Returns how many packets. */
static int plain_paddings(const uint8_t *p, size_t n, uint8_t last, struct sbuf *pad)
{
	size_t off = 0;
	int count = 0;

	for (;;) {
		assert_true(off + 6 <= n);
		uint32_t len = get_u32be(p + off);
		uint8_t padlen = p[off + 4];
		assert_true(len >= 8 && len <= n - off - 4 && padlen >= 4 && padlen < len);
		sbuf_put(pad, p + off + 4 + len - padlen, padlen);
		count++;
		if (p[off + 5] == last)
			return count;
		off += 4 + len;
	}
}

/* The padding of the engine's packets in the clear (KEXINIT, KEX_ECDH_REPLY, NEWKEYS) comes
 * from RAND_bytes: it fits no xorshift state, where the cheap generator's output always
 * would. */
static void test_plaintext_padding_random(void **state)
{
	(void)state;

	/* The check itself: it recognises the generator's output, and only that. */
	uint64_t x = 0x0123456789abcdefULL;
	uint8_t gen[40];
	for (size_t i = 0; i < sizeof(gen); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		gen[i] = (uint8_t)x;
	}
	assert_true(fits_xorshift(gen, sizeof(gen)));
	gen[20] ^= 4;
	assert_false(fits_xorshift(gen, sizeof(gen)));

	for (int run_no = 0; run_no < 3; run_no++) {
		struct pair *p = pair_new(NULL, NULL);
		struct sbuf pad = {0};
		size_t n;
		const uint8_t *out = ssh_out_data(p->s, &n);
		const uint8_t *nl = memchr(out, '\n', n);

		assert_non_null(nl);
		assert_int_equal(plain_paddings(nl + 1, n - (size_t)(nl + 1 - out), 20, &pad), 1);
		tc_start(&p->c);
		s2c(p); /* our banner and KEXINIT: the client answers with KEX_ECDH_INIT */
		feed(p);
		drain(p);
		/* KEX_ECDH_REPLY and NEWKEYS in the clear, then EXT_INFO encrypted */
		out = ssh_out_data(p->s, &n);
		assert_int_equal(plain_paddings(out, n, 21, &pad), 2);
		assert_true(pad.len >= 12);
		if (fits_xorshift(pad.data, pad.len))
			fail_msg("the padding in the clear (%zu bytes) is the cheap generator's",
				 pad.len);
		run(p);
		assert_int_equal(p->c.kex_count, 1);
		sbuf_free(&pad);
		pair_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preauth_budget),
		cmocka_unit_test(test_preauth_budget_counts_kex),
		cmocka_unit_test(test_no_budget_after_auth),
		cmocka_unit_test(test_kexinit_trailing_bytes),
		cmocka_unit_test(test_newkeys_trailing_bytes),
		cmocka_unit_test(test_service_request_trailing_bytes),
		cmocka_unit_test(test_client_ext_info_unimplemented),
		cmocka_unit_test(test_version_line_characters),
		cmocka_unit_test(test_seq_wrap_in_first_kex),
		cmocka_unit_test(test_seq_wrap_after_kex),
		cmocka_unit_test(test_plaintext_padding_random),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return rc;
}
