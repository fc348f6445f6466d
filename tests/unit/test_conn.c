/* Unit tests for the connection protocol (src/ssh/conn.c): a whole session one message at a time,
 * channel open/refuse/limits, data, windows and half-close, zero-copy sends, global requests,
 * extended data. Channel requests are in test_conn_requests.c. Driven in memory by the test client
 * (sshtest_client.h) through the engine_pair.h harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "engine_pair.h"
#include "ssh/internal.h"
#include "ssh/ssh.h"

/* The whole life of a session, one message at a time, checking each answer. */
static void test_handshake_auth_channel(void **state)
{
	struct ssh_config cfg = {.window = 64 * 1024, .max_packet = 32 * 1024};
	struct pair *p = pair_new(NULL, &cfg);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	size_t n, bl;
	(void)state;

	/* Banner and KEXINIT go out before the client says anything. */
	ssh_out_data(p->s, &n);
	assert_true(n > 0);
	handshake(p);
	assert_string_equal(p->c.server_version, ssh_version_string());
	assert_true(p->c.strict);
	assert_int_equal(p->c.ext_info, 1);
	assert_non_null(strstr(p->c.server_sig_algs, "ssh-ed25519"));
	assert_null(strstr(p->c.server_sig_algs, "ssh-rsa,"));
	assert_string_equal(p->c.enc[0]->name, "chacha20-poly1305@openssh.com");

	tc_service_request(&p->c, "ssh-userauth");
	run(p);
	expect_msg(p, M_SERVICE_ACCEPT, &m, &r);
	expect_str(&r, "ssh-userauth");
	sbuf_free(&m);

	/* Query: surfaced without a signature; nothing is sent until the caller answers. */
	tc_auth_query(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_string_equal(ev.user, "alice");
	assert_string_equal(ev.method, "publickey");
	assert_true(ssh_key_equal(ev.key, user_key));
	assert_false(ev.has_sig);
	assert_false(ssh_auth_verify(p->s)); /* a query has no signature to check */
	expect_no_event(p);		     /* the answer is pending */
	ssh_out_data(p->s, &n);
	assert_int_equal(n, 0);
	ssh_auth_accept(p->s);
	s2c(p);
	expect_msg(p, M_USERAUTH_PK_OK, &m, &r);
	expect_str(&r, "ssh-ed25519");
	const uint8_t *blob = sreader_string(&r, &n);
	const uint8_t *ublob = ssh_key_blob(user_key, &bl);
	assert_int_equal(n, bl);
	assert_memory_equal(blob, ublob, bl);
	sbuf_free(&m);
	assert_false(ssh_authenticated(p->s));

	/* Signed request. */
	tc_auth_signed(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ev.has_sig);
	assert_true(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s);
	assert_true(ssh_authenticated(p->s));
	s2c(p);
	expect_msg(p, M_USERAUTH_SUCCESS, &m, &r);
	sbuf_free(&m);

	/* direct-tcpip open, answered later. */
	tc_open_direct(&p->c, 5, 100000, 16384, "example.com", 443, "192.0.2.1", 40000);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	assert_string_equal(ev.chan_type, "direct-tcpip");
	/* The type-specific fields come as they are, for the channel type to parse. */
	struct sbuf want = {0};
	sbuf_put_cstring(&want, "example.com");
	sbuf_put_u32(&want, 443);
	sbuf_put_cstring(&want, "192.0.2.1");
	sbuf_put_u32(&want, 40000);
	assert_int_equal(ev.type_len, want.len);
	assert_memory_equal(ev.type_data, want.data, want.len);
	sbuf_free(&want);
	struct ssh_channel *ch = ev.ch;
	ssh_channel_set_user(ch, p);
	assert_ptr_equal(ssh_channel_user(ch), p);
	expect_no_event(p);
	ssh_out_data(p->s, &n);
	assert_int_equal(n, 0);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 0); /* not confirmed yet */
	ssh_channel_confirm(p->s, ch);
	s2c(p);
	expect_msg(p, M_OPEN_CONFIRMATION, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	assert_int_equal(sreader_u32(&r), ssh_channel_id(ch));
	assert_int_equal(sreader_u32(&r), 64 * 1024);
	assert_int_equal(sreader_u32(&r), 32 * 1024);
	sbuf_free(&m);

	/* Client to server: 40000 bytes leave less than half the window, but no WINDOW_ADJUST
	 * goes out before the caller says the bytes are consumed. */
	uint8_t buf[150000];
	for (int i = 0; i < 4; i++) {
		fill(0, (size_t)i * 10000, buf, 10000);
		tc_data(&p->c, ssh_channel_id(ch), buf, 10000);
		feed(p);
		expect_event(p, &ev, SSH_EV_CHANNEL_DATA);
		assert_ptr_equal(ev.ch, ch);
		assert_int_equal(ev.len, 10000);
		assert_memory_equal(ev.data, buf, 10000);
	}
	expect_no_event(p);
	ssh_out_data(p->s, &n);
	assert_int_equal(n, 0);
	ssh_channel_consumed(p->s, ch, 40000);
	s2c(p);
	expect_msg(p, M_WINDOW_ADJUST, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	assert_int_equal(sreader_u32(&r), 40000);
	sbuf_free(&m);

	/* Server to client: the engine sends no more than the client's window (100000), in
	 * packets of at most its max packet (16384). */
	assert_int_equal(ssh_channel_send_space(p->s, ch), 100000);
	fill(1, 0, buf, sizeof(buf));
	assert_int_equal(ssh_channel_write(p->s, ch, buf, sizeof(buf)), 100000);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 0);
	s2c(p);
	size_t got = 0;
	while (tc_pop(&p->c, &m)) {
		assert_int_equal(m.data[0], M_DATA);
		sreader_init(&r, m.data + 1, m.len - 1);
		assert_int_equal(sreader_u32(&r), 5);
		const uint8_t *d = sreader_string(&r, &n);
		assert_true(n <= 16384);
		assert_memory_equal(d, buf + got, n);
		got += n;
		sbuf_free(&m);
	}
	assert_int_equal(got, 100000);
	/* The window opens again: reported once, then the rest goes. */
	tc_window_adjust(&p->c, ssh_channel_id(ch), 50000);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_WINDOW);
	assert_ptr_equal(ev.ch, ch);
	expect_no_event(p);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 50000);
	assert_int_equal(ssh_channel_write(p->s, ch, buf + 100000, 50000), 50000);
	s2c(p);
	got = 0;
	while (tc_pop(&p->c, &m)) {
		sreader_init(&r, m.data + 1, m.len - 1);
		sreader_u32(&r);
		const uint8_t *d = sreader_string(&r, &n);
		assert_memory_equal(d, buf + 100000 + got, n);
		got += n;
		sbuf_free(&m);
	}
	assert_int_equal(got, 50000);

	/* Half-close: the client's EOF does not stop the server's data. */
	tc_eof(&p->c, ssh_channel_id(ch));
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_EOF);
	assert_ptr_equal(ev.ch, ch);
	expect_no_event(p);
	tc_window_adjust(&p->c, ssh_channel_id(ch), 10);
	feed(p);
	expect_no_event(p); /* the window was not reported shut */
	assert_int_equal(ssh_channel_write(p->s, ch, "after eof", 9), 9);
	ssh_channel_send_eof(p->s, ch);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 0);
	s2c(p);
	expect_msg(p, M_DATA, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	expect_str(&r, "after eof");
	sbuf_free(&m);
	expect_msg(p, M_EOF, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	sbuf_free(&m);
	expect_no_msg(p);

	/* CLOSE from us; the channel lives until the client's CLOSE. */
	ssh_channel_close(p->s, ch);
	ssh_channel_close(p->s, ch); /* once only */
	s2c(p);
	expect_msg(p, M_CLOSE, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	sbuf_free(&m);
	expect_no_msg(p);
	expect_no_event(p);
	assert_int_equal(p->s->open_chans, 1);
	tc_close(&p->c, ssh_channel_id(ch));
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_CLOSE);
	assert_ptr_equal(ev.ch, ch);
	expect_no_event(p);
	assert_int_equal(p->s->open_chans, 0);
	s2c(p);
	expect_no_msg(p); /* no second CLOSE */

	/* A new channel reuses id 0, and a CLOSE from the client first is answered. */
	tc_open_direct(&p->c, 9, 1000, 1000, "h", 1, "o", 2);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	assert_int_equal(ssh_channel_id(ev.ch), 0);
	ch = ev.ch;
	ssh_channel_confirm(p->s, ch);
	tc_close(&p->c, 0);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_CLOSE);
	assert_ptr_equal(ev.ch, ch);
	expect_no_event(p);
	s2c(p);
	expect_msg(p, M_OPEN_CONFIRMATION, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_CLOSE, &m, &r);
	assert_int_equal(sreader_u32(&r), 9);
	sbuf_free(&m);
	expect_no_msg(p);
	assert_int_equal(p->s->open_chans, 0);
	assert_string_equal(p->c.err, "");
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* Zero-copy sends, one packet at a time: reserve offers at most min(window, max packet);
 * commit with fewer bytes sends just those, commit with 0 sends nothing. */
static void test_data_reserve_commit(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_channel *ch = open_channel(p, 7, 5000, 3000);
	struct sbuf m;
	struct sreader r;
	struct iovec iov;
	size_t n;
	(void)state;

	assert_int_equal(ssh_channel_data_reserve(p->s, ch, &iov, 1), 1);
	assert_int_equal(iov.iov_len, 3000);
	memcpy(iov.iov_base, "abc", 3);
	ssh_channel_data_commit(p->s, ch, 3);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 4997);
	assert_int_equal(ssh_channel_data_reserve(p->s, ch, &iov, 1), 1);
	ssh_channel_data_commit(p->s, ch, 0); /* cancelled */
	assert_int_equal(ssh_channel_send_space(p->s, ch), 4997);
	assert_int_equal(ssh_channel_data_reserve(p->s, ch, &iov, 1), 1);
	memset(iov.iov_base, 'z', iov.iov_len);
	ssh_channel_data_commit(p->s, ch, iov.iov_len);
	assert_int_equal(ssh_channel_data_reserve(p->s, ch, &iov, 1), 1);
	assert_int_equal(iov.iov_len, 4997 - 3000);
	memset(iov.iov_base, 'y', iov.iov_len);
	ssh_channel_data_commit(p->s, ch, iov.iov_len);
	assert_int_equal(ssh_channel_data_reserve(p->s, ch, &iov, 1), 0);
	s2c(p);
	expect_msg(p, M_DATA, &m, &r);
	assert_int_equal(sreader_u32(&r), 7);
	expect_str(&r, "abc");
	sbuf_free(&m);
	expect_msg(p, M_DATA, &m, &r);
	sreader_u32(&r);
	sreader_string(&r, &n);
	assert_int_equal(n, 3000);
	sbuf_free(&m);
	expect_msg(p, M_DATA, &m, &r);
	sreader_u32(&r);
	sreader_string(&r, &n);
	assert_int_equal(n, 1997);
	sbuf_free(&m);
	expect_no_msg(p);
	assert_string_equal(p->c.err, "");
	pair_free(p);
}

/* Several packets per reserve (one readv): the window splits into max-packet slots, and a
 * commit of fewer bytes seals only the packets those bytes fill, the last one short. */
static void test_data_reserve_several(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_channel *ch = open_channel(p, 9, 10000, 3000);
	struct sbuf m;
	struct sreader r;
	struct iovec iov[8];
	size_t n;
	(void)state;

	assert_int_equal(ssh_channel_data_reserve(p->s, ch, iov, 8), 4);
	assert_int_equal(iov[0].iov_len, 3000);
	assert_int_equal(iov[2].iov_len, 3000);
	assert_int_equal(iov[3].iov_len, 1000);
	for (int i = 0; i < 3; i++)
		memset(iov[i].iov_base, 'a' + i, iov[i].iov_len);
	ssh_channel_data_commit(p->s, ch, 7000);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 3000);
	s2c(p);
	static const size_t want[] = {3000, 3000, 1000};
	for (int i = 0; i < 3; i++) {
		expect_msg(p, M_DATA, &m, &r);
		assert_int_equal(sreader_u32(&r), 9);
		const uint8_t *d = sreader_string(&r, &n);
		assert_int_equal(n, want[i]);
		assert_true(d[0] == 'a' + i && d[n - 1] == 'a' + i);
		sbuf_free(&m);
	}
	expect_no_msg(p);
	assert_string_equal(p->c.err, "");
	pair_free(p);
}

/* ---- connection protocol ---- */

static void test_global_requests(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct sbuf m;
	struct sreader r;
	(void)state;

	tc_global_request(&p->c, "keepalive@openssh.com", true);
	tc_global_request(&p->c, "no-more-sessions@openssh.com", false);
	tc_global_request(&p->c, "tcpip-forward", true);
	run(p);
	sbuf_put_u8(&p->log, 0);
	assert_string_equal((const char *)p->log.data,
			    "GLOBAL keepalive@openssh.com\nGLOBAL no-more-sessions@openssh.com\n"
			    "GLOBAL tcpip-forward\n");
	expect_msg(p, M_REQUEST_FAILURE, &m, &r);
	assert_int_equal(m.len, 1);
	sbuf_free(&m);
	expect_msg(p, M_REQUEST_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_no_msg(p);
	pair_free(p);
}

/* ssh_keepalive (--client-alive-interval): nothing before login; after it a
 * keepalive@openssh.com request that wants a reply. The answers a client may give, and the
 * channel answers OpenSSH clients send, pass without an event or an error. */
static void test_keepalive_probe_and_answers(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sbuf m;
	struct sreader r;
	(void)state;

	handshake(p);
	ssh_keepalive(p->s);
	expect_no_msg(p);
	pair_free(p);

	p = connected(NULL, NULL);
	open_channel(p, 3, 1000, 1000);
	ssh_keepalive(p->s);
	s2c(p);
	expect_msg(p, 80, &m, &r);
	expect_str(&r, "keepalive@openssh.com");
	assert_int_equal(sreader_bool(&r), true);
	assert_int_equal(sreader_left(&r), 0);
	sbuf_free(&m);
	static const uint8_t failure[] = {82}, success[] = {81, 0, 0, 0, 7};
	static const uint8_t ch_success[] = {99, 0, 0, 0, 0}, ch_failure[] = {100, 0, 0, 0, 0};
	tc_send(&p->c, failure, sizeof(failure));
	tc_send(&p->c, success, sizeof(success)); /* a reply may carry data (tcpip-forward's) */
	tc_send(&p->c, ch_success, sizeof(ch_success));
	tc_send(&p->c, ch_failure, sizeof(ch_failure));
	feed(p);
	expect_no_event(p);
	assert_false(ssh_closed(p->s));
	/* Still a working connection: data on the channel arrives. */
	tc_data(&p->c, 0, "hi", 2);
	feed(p);
	struct ssh_event ev;
	expect_event(p, &ev, SSH_EV_CHANNEL_DATA);
	assert_int_equal(ev.len, 2);
	expect_no_msg(p);
	pair_free(p);
}

static void test_channel_refusals(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	(void)state;

	/* An unknown type is surfaced; the caller refuses it with reason 3. */
	tc_open_type(&p->c, "session", 11, 1000, 1000);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	assert_string_equal(ev.chan_type, "session");
	assert_int_equal(ev.type_len, 0);
	ssh_channel_refuse(p->s, ev.ch, SSH_OPEN_UNKNOWN_CHANNEL_TYPE, "unknown channel type");
	s2c(p);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 11);
	assert_int_equal(sreader_u32(&r), 3);
	expect_str(&r, "unknown channel type");
	expect_str(&r, "");
	assert_int_equal(sreader_left(&r), 0);
	sbuf_free(&m);
	assert_int_equal(p->s->open_chans, 0);

	/* direct-tcpip refused later with reason 2 and the caller's text. */
	tc_open_direct(&p->c, 12, 1000, 1000, "db.internal", 5432, "10.0.0.1", 999);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	ssh_channel_refuse(p->s, ev.ch, SSH_OPEN_CONNECT_FAILED, "connect failed: ECONNREFUSED");
	s2c(p);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 12);
	assert_int_equal(sreader_u32(&r), 2);
	expect_str(&r, "connect failed: ECONNREFUSED");
	sbuf_free(&m);
	assert_int_equal(p->s->open_chans, 0);

	/* Reason 1 too. */
	tc_open_direct(&p->c, 13, 1000, 1000, "a", 1, "b", 2);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	ssh_channel_refuse(p->s, ev.ch, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, "policy");
	s2c(p);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 13);
	assert_int_equal(sreader_u32(&r), 1);
	expect_str(&r, "policy");
	sbuf_free(&m);

	/* A host with a NUL is the channel type's to judge: the bytes come as they are. */
	struct sbuf b = {0};
	sbuf_put_u8(&b, 90);
	sbuf_put_cstring(&b, "direct-tcpip");
	sbuf_put_u32(&b, 14);
	sbuf_put_u32(&b, 1000);
	sbuf_put_u32(&b, 1000);
	sbuf_put_string(&b, "evil\0.com", 9);
	sbuf_put_u32(&b, 80);
	sbuf_put_cstring(&b, "o");
	sbuf_put_u32(&b, 1);
	tc_send_sbuf(&p->c, &b);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	assert_int_equal(ev.type_len, 4 + 9 + 4 + 4 + 1 + 4);
	assert_memory_equal(ev.type_data + 4, "evil\0.com", 9);
	ssh_channel_refuse(p->s, ev.ch, SSH_OPEN_CONNECT_FAILED, "bad host");
	/* A max packet below 64 bytes is refused by the engine (reason 4). */
	tc_open_direct(&p->c, 15, 1000, 10, "a", 1, "b", 2);
	feed(p);
	expect_no_event(p);
	s2c(p);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 15);
	assert_int_equal(sreader_u32(&r), 4);
	sbuf_free(&m);
	expect_no_msg(p);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

static void test_channel_limit(void **state)
{
	struct ssh_config cfg = {.max_channels = 2};
	struct pair *p = connected(NULL, &cfg);
	struct sbuf m;
	struct sreader r;
	(void)state;

	open_channel(p, 1, 1000, 1000);
	open_channel(p, 2, 1000, 1000);
	sbuf_reset(&p->log);
	tc_open_direct(&p->c, 3, 1000, 1000, "a", 1, "b", 2);
	run(p);
	assert_int_equal(p->log.len, 0);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 3);
	assert_int_equal(sreader_u32(&r), SSH_OPEN_RESOURCE_SHORTAGE);
	sbuf_free(&m);
	/* Closing one makes room. */
	tc_close(&p->c, 0);
	run(p);
	expect_msg(p, M_CLOSE, &m, &r);
	sbuf_free(&m);
	open_channel(p, 4, 1000, 1000);
	pair_free(p);
}

/* Extended data is dropped, and its window handed back at once. */
static void test_extended_data_ignored(void **state)
{
	struct ssh_config cfg = {.window = 4096};
	struct pair *p = connected(NULL, &cfg);
	struct sbuf m;
	struct sreader r;
	uint8_t d[4096] = {0};
	(void)state;

	open_channel(p, 4, 1000, 1000);
	sbuf_reset(&p->log);
	tc_ext_data(&p->c, 0, 1, d, 3000);
	run(p);
	assert_int_equal(p->log.len, 0);
	expect_msg(p, M_WINDOW_ADJUST, &m, &r);
	assert_int_equal(sreader_u32(&r), 4);
	assert_int_equal(sreader_u32(&r), 3000);
	sbuf_free(&m);
	/* The window is whole again: 4096 more bytes are fine. */
	tc_data(&p->c, 0, d, 4096);
	run(p);
	assert_int_equal(p->data.len, 4096);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* The client may not send more than the window we granted, nor bigger packets than our max. */
static void test_window_overrun_disconnects(void **state)
{
	struct ssh_config cfg = {.window = 8192, .max_packet = 4096};
	struct pair *p = connected(NULL, &cfg);
	uint8_t d[8192] = {0};
	(void)state;

	open_channel(p, 4, 1000, 1000);
	p->auto_consume = false;
	tc_data(&p->c, 0, d, 4096);
	tc_data(&p->c, 0, d, 4096);
	run(p);
	assert_int_equal(p->data.len, 8192);
	assert_int_equal(p->disconnects, 0);
	tc_data(&p->c, 0, d, 1);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);

	p = connected(NULL, &cfg);
	open_channel(p, 4, 1000, 1000);
	tc_data(&p->c, 0, d, 4097);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_int_equal(p->data.len, 0);
	pair_free(p);
}

/* A channel the caller hasn't confirmed doesn't exist for the client (it learns our number
 * from OPEN_CONFIRMATION): any message for it, CLOSE included, ends the session. */
static void test_unconfirmed_channel_messages(void **state)
{
	static const uint8_t msgs[] = {93, 94, 95, 96, 97, 98, 99, 100};
	(void)state;

	for (size_t i = 0; i < sizeof(msgs); i++) {
		struct pair *p = connected(NULL, NULL);
		struct ssh_event ev;
		struct sbuf b = {0};

		tc_open_direct(&p->c, 5, 1000, 1000, "example.com", 443, "o", 1);
		feed(p);
		expect_event(p, &ev, SSH_EV_CHANNEL_OPEN); /* not answered */
		sbuf_put_u8(&b, msgs[i]);
		sbuf_put_u32(&b, ssh_channel_id(ev.ch));
		if (msgs[i] == 93 || msgs[i] == 95)
			sbuf_put_u32(&b, 1);
		if (msgs[i] == 94 || msgs[i] == 95)
			sbuf_put_cstring(&b, "x");
		if (msgs[i] == 98) {
			sbuf_put_cstring(&b, "exec");
			sbuf_put_u8(&b, 1);
		}
		tc_send_sbuf(&p->c, &b);
		feed(p);
		expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
		assert_string_equal(p->disc_text, "message for unknown channel");
		pair_free(p);
	}
}

/* A WINDOW_ADJUST for a channel that is gone (both CLOSEs passed) is ignored, not a reason to
 * end the session; other messages for it still are. */
static void test_late_window_adjust_ignored(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	(void)state;

	struct ssh_channel *ch = open_channel(p, 5, 1000, 1000);
	uint32_t id = ssh_channel_id(ch);
	tc_close(&p->c, id);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_CLOSE);
	p->ch = NULL;
	s2c(p);
	expect_msg(p, M_CLOSE, &m, &r); /* the engine's answer */
	sbuf_free(&m);
	tc_window_adjust(&p->c, id, 1000);
	feed(p);
	expect_no_event(p);
	assert_int_equal(p->disconnects, 0);
	assert_false(ssh_closed(p->s));
	open_channel(p, 6, 1000, 1000); /* the session goes on */
	tc_eof(&p->c, 999); /* anything else for a channel that isn't there still ends it */
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

/* The caller closes a channel before confirming it: the client gets OPEN_FAILURE, never a
 * CLOSE for a channel it doesn't know, and the engine reports the channel gone. */
static void test_close_before_confirm(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	(void)state;

	tc_open_direct(&p->c, 5, 1000, 1000, "example.com", 443, "o", 1);
	tc_open_direct(&p->c, 6, 1000, 1000, "example.com", 443, "o", 1);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	struct ssh_channel *a = ev.ch;
	expect_event(p, &ev, SSH_EV_CHANNEL_OPEN);
	struct ssh_channel *b = ev.ch;
	ssh_channel_close(p->s, a);
	ssh_channel_close(p->s, a);				   /* once only */
	ssh_channel_confirm(p->s, a);				   /* too late: nothing */
	ssh_channel_refuse(p->s, a, SSH_OPEN_CONNECT_FAILED, "x"); /* likewise */
	expect_event(p, &ev, SSH_EV_CHANNEL_CLOSE);
	assert_ptr_equal(ev.ch, a);
	expect_no_event(p);
	assert_int_equal(p->s->open_chans, 1);
	s2c(p);
	expect_msg(p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	assert_int_equal(sreader_u32(&r), SSH_OPEN_CONNECT_FAILED);
	sbuf_free(&m);
	expect_no_msg(p);

	/* The other one lives on, and its number can be used again. */
	ssh_channel_confirm(p->s, b);
	s2c(p);
	expect_msg(p, M_OPEN_CONFIRMATION, &m, &r);
	assert_int_equal(sreader_u32(&r), 6);
	sbuf_free(&m);
	tc_data(&p->c, ssh_channel_id(b), "hi", 2);
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_DATA);
	assert_ptr_equal(ev.ch, b);
	ssh_channel_consumed(p->s, b, 2);
	open_channel(p, 7, 1000, 1000);
	assert_int_equal(ssh_channel_id(p->ch), 0);
	assert_int_equal(p->disconnects, 0);
	assert_string_equal(p->c.err, "");
	pair_free(p);
}

/* Channel messages with bytes after their last field, or cut short, end the session
 * (OpenSSH: sshpkt_get_end in channel_input_*). */
static void check_channel_msg(const uint8_t *extra, size_t extra_len, uint8_t msg, bool cut)
{
	struct pair *p = connected(NULL, NULL);
	struct sbuf b = {0};

	open_channel(p, 4, 1000, 1000);
	sbuf_put_u8(&b, msg);
	sbuf_put_u32(&b, 0);
	sbuf_put(&b, extra, extra_len);
	if (cut)
		b.len--;
	else
		sbuf_put_u8(&b, 0);
	tc_send_sbuf(&p->c, &b);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

static void test_channel_msg_trailing_bytes(void **state)
{
	static const uint8_t adjust[] = {0, 0, 0x10, 0};
	static const uint8_t data[] = {0, 0, 0, 2, 'h', 'i'};
	static const uint8_t ext[] = {0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i'};
	static const uint8_t req[] = {0, 0, 0, 4, 'e', 'x', 'e', 'c', 1};
	(void)state;

	check_channel_msg(adjust, sizeof(adjust), 93, false);
	check_channel_msg(adjust, sizeof(adjust), 93, true);
	check_channel_msg(data, sizeof(data), 94, false);
	check_channel_msg(data, sizeof(data), 94, true);
	check_channel_msg(ext, sizeof(ext), 95, false);
	check_channel_msg(ext, sizeof(ext), 95, true);
	check_channel_msg(NULL, 0, 96, false);
	check_channel_msg(NULL, 0, 97, false);
	check_channel_msg(NULL, 0, 99, false);
	check_channel_msg(NULL, 0, 100, false);
	check_channel_msg(req, sizeof(req), 98, true); /* no want_reply */

	/* Request-specific fields after want_reply are the request's: not an error. */
	struct pair *p = connected(NULL, NULL);
	struct sbuf b = {0}, m;
	struct sreader r;
	open_channel(p, 4, 1000, 1000);
	sbuf_put_u8(&b, 98);
	sbuf_put_u32(&b, 0);
	sbuf_put(&b, req, sizeof(req));
	sbuf_put_cstring(&b, "ls");
	tc_send_sbuf(&p->c, &b);
	run(p);
	expect_msg(p, M_CHANNEL_FAILURE, &m, &r);
	sbuf_free(&m);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_auth_channel),
		cmocka_unit_test(test_data_reserve_commit),
		cmocka_unit_test(test_data_reserve_several),
		cmocka_unit_test(test_global_requests),
		cmocka_unit_test(test_keepalive_probe_and_answers),
		cmocka_unit_test(test_channel_refusals),
		cmocka_unit_test(test_channel_limit),
		cmocka_unit_test(test_extended_data_ignored),
		cmocka_unit_test(test_window_overrun_disconnects),
		cmocka_unit_test(test_unconfirmed_channel_messages),
		cmocka_unit_test(test_late_window_adjust_ignored),
		cmocka_unit_test(test_close_before_confirm),
		cmocka_unit_test(test_channel_msg_trailing_bytes),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL) /* e.g. TEST_FILTER='test_rekey*' */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return rc;
}
