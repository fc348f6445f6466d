/* Unit tests for key exchange and re-keying (src/ssh/kex.c): cipher negotiation, strict KEX
 * (PROTOCOL §1.10), ext-info, first_kex_packet_follows, X25519 checks, the libcrypto cache, and
 * re-keys started by either side in the middle of transfers. Driven in memory by the test client
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

/* ---- each cipher ---- */

static void check_cipher_pair(const char *c2s, const char *s2c_name, const char *mac)
{
	struct tc_opts o = {.enc_c2s = c2s, .enc_s2c = s2c_name, .mac_c2s = mac, .mac_s2c = mac};
	struct ssh_config cfg = {.window = 48 * 1024};
	struct pair *p = connected(&o, &cfg);
	struct xfer x;

	assert_string_equal(p->c.enc[0]->name, c2s);
	assert_string_equal(p->c.enc[1]->name, s2c_name);
	if (p->c.mac[0])
		assert_int_equal(strncmp(p->c.mac[0]->name, mac, strlen(p->c.mac[0]->name)), 0);
	struct ssh_channel *ch = xfer_open(p, &x, 200 * 1024);
	x.client_rekey_at = 100 * 1024;
	xfer_run(p, &x, ch);
	assert_int_equal(p->c.kex_count, 2);
	pair_free(p);
}

static void test_each_cipher(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCIPHERS; i++) {
		check_cipher_pair(cipher_names[i], cipher_names[i], TC_MAC_DEFAULT);
		if (strstr(cipher_names[i], "ctr"))
			check_cipher_pair(cipher_names[i], cipher_names[i],
					  "hmac-sha2-512-etm@openssh.com");
	}
	/* Each direction negotiates on its own. */
	check_cipher_pair("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com",
			  TC_MAC_DEFAULT);
	check_cipher_pair("chacha20-poly1305@openssh.com", "aes256-ctr", TC_MAC_DEFAULT);
}

/* The client's preference order wins (RFC 4253 §7.1). */
static void test_client_preference_wins(void **state)
{
	struct tc_opts o = {.enc_c2s = "aes256-ctr,chacha20-poly1305@openssh.com",
			    .enc_s2c = "aes128-cbc,aes256-gcm@openssh.com,aes128-ctr",
			    .mac_c2s = "hmac-sha1,hmac-sha2-512-etm@openssh.com"};
	struct pair *p = connected(&o, NULL);
	(void)state;

	assert_string_equal(p->c.enc[0]->name, "aes256-ctr");
	assert_string_equal(p->c.mac[0]->name, "hmac-sha2-512-etm@openssh.com");
	assert_string_equal(p->c.enc[1]->name, "aes256-gcm@openssh.com");
	pair_free(p);
}

/* Nothing in common → KEY_EXCHANGE_FAILED, with a text naming the list that failed (the host
 * logs it: session.c "negotiation failed"). */
static void expect_no_match(const struct tc_opts *o, const char *text)
{
	struct pair *p = pair_new(o, NULL);

	p->client_err_ok = true;
	tc_start(&p->c);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	assert_string_equal(p->disc_text, text);
	pair_free(p);
}

static void test_no_common_cipher(void **state)
{
	(void)state;
	expect_no_match(&(struct tc_opts){.enc_c2s = "aes128-cbc,3des-cbc"}, "no matching cipher");
	expect_no_match(&(struct tc_opts){.enc_s2c = "aes128-cbc"}, "no matching cipher");
	expect_no_match(&(struct tc_opts){.enc_c2s = "aes128-ctr", .mac_c2s = "hmac-sha1,hmac-md5"},
			"no matching MAC");
}

static void test_no_common_kex_hostkey_comp(void **state)
{
	(void)state;
	expect_no_match(&(struct tc_opts){.kex = "diffie-hellman-group1-sha1,ext-info-c"},
			"no matching key exchange method");
	expect_no_match(&(struct tc_opts){.hostkey = "ssh-rsa,ssh-dss"},
			"no matching host key type");
	expect_no_match(&(struct tc_opts){.comp = "zlib@openssh.com,zlib"},
			"no matching compression method");
	/* The first list that fails is named, in OpenSSH's order. */
	expect_no_match(
		&(struct tc_opts){.kex = "diffie-hellman-group14-sha1", .enc_c2s = "3des-cbc"},
		"no matching key exchange method");
}

/* ---- strict KEX (PROTOCOL §1.10) ---- */

static void test_strict_ignore_before_kexinit(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	(void)state;

	p->client_err_ok = true;
	tc_send_version(&p->c);
	tc_ignore(&p->c, 8);
	tc_rekey(&p->c); /* the first KEXINIT, second packet */
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	expect_dead(p);
	pair_free(p);
}

/* Sends `msg` (IGNORE, DEBUG or UNIMPLEMENTED) at a point of the first key exchange:
 * 0 right after KEXINIT, 1 after ECDH_INIT. */
static void send_transport_msg(struct tc *c, uint8_t msg)
{
	if (msg == 2) {
		tc_ignore(c, 4);
	} else if (msg == 4) {
		tc_debug(c);
	} else {
		uint8_t u[5] = {3, 0, 0, 0, 0};
		tc_send_now(c, u, sizeof(u));
	}
}

static void check_strict_violation(uint8_t msg, int where)
{
	struct pair *p = pair_new(NULL, NULL);

	p->client_err_ok = true;
	tc_start(&p->c);
	if (where == 0) {
		send_transport_msg(&p->c, msg);
	} else {
		s2c(p); /* the engine's KEXINIT: the client sends ECDH_INIT */
		send_transport_msg(&p->c, msg);
	}
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_int_equal(p->kex_done, 0);
	expect_dead(p);
	pair_free(p);
}

static void test_strict_transport_msgs_in_kex_disconnect(void **state)
{
	static const uint8_t msgs[] = {2, 4, 3};
	(void)state;

	for (size_t i = 0; i < sizeof(msgs); i++) {
		check_strict_violation(msgs[i], 0);
		check_strict_violation(msgs[i], 1);
	}
}

/* Strict KEX: an IGNORE after the engine sent NEWKEYS but before the client's NEWKEYS. */
static void test_strict_ignore_before_client_newkeys(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	(void)state;

	tc_start(&p->c);
	s2c(p);
	feed(p); /* KEXINIT, ECDH_INIT: the engine replies and sends NEWKEYS */
	drain(p);
	tc_ignore(&p->c, 4); /* in the clear: the client has not switched yet */
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

/* Without strict KEX, IGNORE and DEBUG anywhere in the key exchange are fine, and sequence
 * numbers run on across NEWKEYS (the client does not reset; the handshake only works if the
 * engine doesn't either). */
static void test_nonstrict_transport_msgs_in_kex_ok(void **state)
{
	struct tc_opts o = {.kex = TC_KEX_NOSTRICT};
	struct pair *p = pair_new(&o, NULL);
	(void)state;

	tc_send_version(&p->c);
	tc_ignore(&p->c, 8);
	tc_debug(&p->c);
	tc_rekey(&p->c);
	tc_ignore(&p->c, 1);
	s2c(p);
	tc_debug(&p->c);
	send_transport_msg(&p->c, 3);
	run(p);
	assert_false(p->c.strict);
	assert_int_equal(p->c.kex_count, 1);
	assert_int_equal(p->kex_done, 1);
	assert_true(p->c.rx_seq > 3 && p->c.tx_seq > 3);
	authenticate(p);
	pair_free(p);
}

/* Strict KEX: both sides restart at sequence number 0 after NEWKEYS. A client that keeps
 * counting is cut off on its first encrypted packet (it no longer authenticates). */
static void test_strict_seq_reset(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct tc_opts o = {.no_seq_reset = true};
	(void)state;

	handshake(p);
	assert_true(p->c.strict);
	/* The client reset too, and its NEWKEYS was its third packet: the engine's first
	 * encrypted packet (EXT_INFO) was sealed with sequence number 0. */
	assert_int_equal(p->c.tx_seq, 0);
	assert_int_equal(p->c.rx_seq, 1);
	authenticate(p);
	pair_free(p);

	/* EtM covers the sequence number: MAC error. chacha20-poly1305 uses it as the nonce of
	 * the length too: the length decrypts to garbage first. (GCM does not use it.) */
	static const struct {
		const char *cipher;
		uint32_t reason;
	} cases[] = {
		{"aes128-ctr", SSH_DISCONNECT_MAC_ERROR},
		{"aes256-ctr", SSH_DISCONNECT_MAC_ERROR},
		{"chacha20-poly1305@openssh.com", SSH_DISCONNECT_PROTOCOL_ERROR},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.enc_c2s = o.enc_s2c = cases[i].cipher;
		p = pair_new(&o, NULL);
		tc_start(&p->c);
		run(p);
		assert_int_equal(p->c.tx_seq, 3);
		tc_service_request(&p->c, "ssh-userauth");
		feed(p);
		expect_disconnect(p, cases[i].reason);
		pair_free(p);
	}
}

/* The strict rules cover the first key exchange only; "kex-strict-c" in a later KEXINIT is
 * ignored, and IGNORE during a re-key is fine. */
static void test_strict_rules_first_kex_only(void **state)
{
	struct pair *p = connected(NULL, NULL);
	(void)state;

	tc_rekey(&p->c);
	tc_ignore(&p->c, 5);
	s2c(p);
	run(p);
	assert_int_equal(p->c.kex_count, 2);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);

	/* Not strict at first: a later kex-strict-c changes nothing (the sequence numbers keep
	 * running, which the client does since it only decides on the first KEXINIT). */
	struct tc_opts o = {.kex = TC_KEX_NOSTRICT};
	p = connected(&o, NULL);
	p->c.o.kex = TC_KEX_DEFAULT;
	tc_rekey(&p->c);
	tc_ignore(&p->c, 5);
	run(p);
	assert_int_equal(p->c.kex_count, 2);
	assert_false(p->c.strict);
	tc_global_request(&p->c, "x", false);
	run(p);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* EXT_INFO (RFC 8308) only for a client that asked with ext-info-c; later auth requests are
 * ignored once authenticated (RFC 4252 §5.1). */
static void test_ext_info_and_late_auth(void **state)
{
	struct tc_opts o = {.kex = "curve25519-sha256@libssh.org,kex-strict-c-v00@openssh.com"};
	struct pair *p = connected(&o, NULL);
	(void)state;

	assert_int_equal(p->c.ext_info, 0);
	assert_true(p->c.strict);
	tc_auth_signed(&p->c, "mallory", other_key, NULL);
	tc_auth_none(&p->c, "x");
	run(p);
	assert_int_equal(p->log.len, 0);
	expect_no_msg(p);
	assert_int_equal(p->disconnects, 0);
	assert_true(ssh_authenticated(p->s));
	pair_free(p);
}

/* first_kex_packet_follows: a wrong guess is ignored, a right one is used. Right means both
 * sides' first kex method and host key algorithm are the same (RFC 4253 §7): a client whose
 * first method is one we have but not our first (dropbear's curve25519-sha256) guessed wrong,
 * and sends its packet again after our KEXINIT. */
static void test_kex_guess(void **state)
{
	struct tc_opts wrong = {.hostkey = "ecdsa-sha2-nistp256,ssh-ed25519",
				.guess_follows = true,
				.guess_garbage = true};
	struct tc_opts not_our_first = {.guess_follows = true, .guess_garbage = true};
	struct tc_opts not_our_first_real = {.guess_follows = true};
	struct tc_opts right = {
		.kex = "mlkem768x25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
		.guess_follows = true};
	(void)state;

	struct pair *p = connected(&wrong, NULL);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
	p = connected(&not_our_first, NULL);
	assert_int_equal(p->disconnects, 0);
	assert_string_equal(p->c.kex_alg, "curve25519-sha256");
	pair_free(p);
	p = connected(&not_our_first_real, NULL);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
	p = connected(&right, NULL);
	assert_int_equal(p->disconnects, 0);
	assert_string_equal(p->c.kex_alg, "mlkem768x25519-sha256");
	pair_free(p);
}

/* RFC 8731 §3: an all-zero shared secret (a low-order client point) aborts. */
static void test_x25519_zero_point(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	uint8_t zero[32] = {0};
	struct sbuf b = {0};
	(void)state;

	p->client_err_ok = true;
	tc_start(&p->c);
	sbuf_put_u8(&b, 30);
	sbuf_put_string(&b, zero, 32);
	tc_send_now(&p->c, b.data, b.len);
	sbuf_free(&b);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	pair_free(p);
}

/* Without a libcrypto cache (ssh_config.crypto NULL) the engine makes its objects per use:
 * the handshake, login and a re-keyed transfer work the same, with every cipher. */
static void test_no_crypto_cache(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCIPHERS; i++) {
		struct tc_opts o = {.enc_c2s = cipher_names[i], .enc_s2c = cipher_names[i]};
		struct pair *p = pair_new(&o, NULL);
		struct xfer x;

		ssh_free(p->s);
		p->cfg.crypto = NULL;
		p->s = ssh_new(&p->cfg);
		handshake(p);
		authenticate(p);
		struct ssh_channel *ch = xfer_open(p, &x, 64 * 1024);
		x.client_rekey_at = 32 * 1024;
		xfer_run(p, &x, ch);
		assert_int_equal(p->c.kex_count, 2);
		assert_string_equal(p->c.enc[0]->name, cipher_names[i]);
		pair_free(p);
	}
}

/* ---- re-keying ---- */

static void test_rekey_client_mid_transfer(void **state)
{
	struct ssh_config cfg = {.window = 100 * 1024};
	struct pair *p = connected(NULL, &cfg);
	struct xfer x;
	(void)state;

	struct ssh_channel *ch = xfer_open(p, &x, 600 * 1024);
	x.client_rekey_at = 200 * 1024;
	xfer_run(p, &x, ch);
	assert_true(x.client_rekeyed);
	assert_int_equal(p->c.kex_count, 2);
	assert_int_equal(p->kex_done, 2);
	assert_true(x.blocked_seen > 0);
	assert_int_equal(p->c.ext_info, 1); /* the first key exchange only */
	pair_free(p);
}

static void test_rekey_server_mid_transfer(void **state)
{
	struct ssh_config cfg = {.window = 100 * 1024};
	struct pair *p = connected(NULL, &cfg);
	struct xfer x;
	(void)state;

	struct ssh_channel *ch = xfer_open(p, &x, 600 * 1024);
	x.server_rekey_at = 200 * 1024;
	xfer_run(p, &x, ch);
	assert_int_equal(p->c.kex_count, 2);
	assert_int_equal(p->kex_done, 2);
	assert_true(x.blocked_seen > 0);
	pair_free(p);
}

static void test_rekey_both_at_once(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct xfer x;
	(void)state;

	struct ssh_channel *ch = xfer_open(p, &x, 300 * 1024);
	x.both_rekey_at = 100 * 1024;
	xfer_run(p, &x, ch);
	assert_true(x.client_rekeyed);
	assert_int_equal(p->c.kex_count, 2);
	assert_int_equal(p->kex_done, 2);
	pair_free(p);
}

/* ssh_config.rekey_bytes: the engine starts key exchanges by itself. */
static void test_rekey_by_byte_limit(void **state)
{
	struct ssh_config cfg = {.window = 64 * 1024, .rekey_bytes = 48 * 1024};
	struct pair *p = connected(NULL, &cfg);
	struct xfer x;
	(void)state;

	struct ssh_channel *ch = xfer_open(p, &x, 1024 * 1024);
	xfer_run(p, &x, ch);
	/* ~2 MiB crossed the wire: a key exchange at least every 48 KiB plus slack. */
	assert_true(p->c.kex_count >= 20);
	assert_int_equal(p->kex_done, p->c.kex_count);
	assert_true(x.blocked_seen > 0);
	pair_free(p);
}

/* While our KEXINIT is outstanding nothing from the connection layer goes out: no data
 * (send_space 0), no window adjustments, no replies; they follow the new keys in order. */
static void test_rekey_holds_connection_messages(void **state)
{
	struct ssh_config cfg = {.window = 8192};
	struct pair *p = connected(NULL, &cfg);
	struct ssh_channel *ch = open_channel(p, 7, 100000, 32768);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	struct iovec iov;
	uint8_t data[6000];
	(void)state;

	fill(0, 0, data, sizeof(data));
	tc_data(&p->c, 0, data, sizeof(data));
	feed(p);
	expect_event(p, &ev, SSH_EV_CHANNEL_DATA);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 100000);

	ssh_rekey(p->s);
	ssh_rekey(p->s); /* no-op while one runs */
	assert_true(kex_tx_blocked(p->s));
	assert_int_equal(ssh_channel_send_space(p->s, ch), 0);
	assert_int_equal(ssh_channel_write(p->s, ch, "x", 1), 0);
	assert_int_equal(ssh_channel_data_reserve(p->s, ch, &iov, 1), 0);
	ssh_channel_consumed(p->s, ch, sizeof(data)); /* window < half: an adjust is due */
	/* Client messages sent before it saw our KEXINIT still get answers, held back. */
	tc_global_request(&p->c, "keepalive@openssh.com", true);
	tc_channel_request(&p->c, 0, "x", true);
	feed(p);
	expect_event(p, &ev, SSH_EV_GLOBAL_REQUEST);
	expect_event(p, &ev, SSH_EV_CHANNEL_REQUEST); /* the host answers it during the kex */
	ssh_channel_request_reply(p->s, ev.ch, false);
	expect_no_event(p);
	ssh_channel_send_eof(p->s, ch);
	s2c(p);
	expect_no_msg(p); /* only KEXINIT arrived; the client answered it */
	assert_int_equal(p->c.kexinit_rcvd, 2);
	assert_int_equal(p->c.conn_in_kex, 0);
	run(p);
	assert_int_equal(p->c.kex_count, 2);
	assert_int_equal(p->kex_done, 2);
	assert_int_equal(p->c.conn_in_kex, 0);
	/* The held replies in order; the window adjustment follows the client's NEWKEYS. */
	expect_msg(p, M_REQUEST_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_CHANNEL_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_EOF, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_WINDOW_ADJUST, &m, &r);
	assert_int_equal(sreader_u32(&r), 7);
	assert_int_equal(sreader_u32(&r), sizeof(data));
	sbuf_free(&m);
	expect_no_msg(p);
	assert_int_equal(ssh_channel_send_space(p->s, ch), 0); /* EOF sent */
	pair_free(p);
}

/* Re-key before authentication: SERVICE_ACCEPT and PK_OK wait for the new keys. */
static void test_rekey_during_userauth(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	(void)state;

	handshake(p);
	ssh_rekey(p->s);
	tc_service_request(&p->c, "ssh-userauth");
	tc_auth_query(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	ssh_auth_accept(p->s);
	s2c(p);
	expect_no_msg(p);
	run(p);
	assert_int_equal(p->c.kex_count, 2);
	expect_msg(p, M_SERVICE_ACCEPT, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_USERAUTH_PK_OK, &m, &r);
	sbuf_free(&m);
	tc_auth_signed(&p->c, "alice", user_key, NULL);
	run(p);
	expect_msg(p, M_USERAUTH_SUCCESS, &m, &r);
	sbuf_free(&m);
	pair_free(p);
}

/* RFC 4253 §7.1 forbids connection messages between a client's KEXINIT and NEWKEYS, but
 * asyncssh sends them and OpenSSH accepts them; so does the engine once authenticated (d1bbc85),
 * holding its own replies until its NEWKEYS. Before authentication the rule holds. */
static void test_rekey_client_data_in_kex(void **state)
{
	struct pair *p = connected(NULL, NULL);
	struct sbuf m;
	struct sreader r;
	(void)state;

	open_channel(p, 7, 65536, 32768);
	sbuf_reset(&p->log);
	tc_rekey(&p->c);
	uint8_t d[] = {94, 0, 0, 0, 0, 0, 0, 0, 1, 'x'};
	tc_send_now(&p->c, d, sizeof(d));
	uint8_t g[] = {80, 0, 0, 0, 1, 'k', 1}; /* GLOBAL_REQUEST "k", want reply */
	tc_send_now(&p->c, g, sizeof(g));
	feed(p);
	drain(p);
	sbuf_put_u8(&p->log, 0);
	assert_string_equal((const char *)p->log.data, "DATA 0 1\nGLOBAL k\n");
	assert_true(kex_tx_blocked(p->s));
	s2c(p);
	expect_no_msg(p); /* the reply waits */
	assert_int_equal(p->c.conn_in_kex, 0);
	run(p);
	assert_int_equal(p->c.kex_count, 2);
	expect_msg(p, M_REQUEST_FAILURE, &m, &r);
	sbuf_free(&m);
	assert_int_equal(p->c.conn_in_kex, 0);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);

	/* Before authentication: an auth request inside the client's key exchange. */
	p = pair_new(NULL, NULL);
	handshake(p);
	service_accepted(p);
	tc_rekey(&p->c);
	struct sbuf b = {0};
	sbuf_put_u8(&b, 50);
	sbuf_put_cstring(&b, "alice");
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, "none");
	tc_send_now(&p->c, b.data, b.len);
	sbuf_free(&b);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_cipher),
		cmocka_unit_test(test_client_preference_wins),
		cmocka_unit_test(test_no_common_cipher),
		cmocka_unit_test(test_no_common_kex_hostkey_comp),
		cmocka_unit_test(test_strict_ignore_before_kexinit),
		cmocka_unit_test(test_strict_transport_msgs_in_kex_disconnect),
		cmocka_unit_test(test_strict_ignore_before_client_newkeys),
		cmocka_unit_test(test_nonstrict_transport_msgs_in_kex_ok),
		cmocka_unit_test(test_strict_seq_reset),
		cmocka_unit_test(test_strict_rules_first_kex_only),
		cmocka_unit_test(test_ext_info_and_late_auth),
		cmocka_unit_test(test_kex_guess),
		cmocka_unit_test(test_x25519_zero_point),
		cmocka_unit_test(test_no_crypto_cache),
		cmocka_unit_test(test_rekey_client_mid_transfer),
		cmocka_unit_test(test_rekey_server_mid_transfer),
		cmocka_unit_test(test_rekey_both_at_once),
		cmocka_unit_test(test_rekey_by_byte_limit),
		cmocka_unit_test(test_rekey_holds_connection_messages),
		cmocka_unit_test(test_rekey_during_userauth),
		cmocka_unit_test(test_rekey_client_data_in_kex),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL) /* e.g. TEST_FILTER='test_rekey*' */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return rc;
}
