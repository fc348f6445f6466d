/* Unit tests for the engine's algorithm lists (src/ssh/algs.c, the KEXINIT building and
 * negotiation in src/ssh/kex.c) and the encrypt-and-MAC MACs hmac-sha2-256/512 (RFC 6668) in
 * whole sessions: transfers with re-keys, what is offered by default, configured lists in the
 * KEXINIT and in negotiation, and tampered packets refused alike with and without ETM. Driven in
 * memory by the test client through the engine_pair.h harness. */
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

/* ---- encrypt-and-MAC in a session ---- */

/* 200 KiB each way with one cipher and MAC per direction, re-keyed half-way by the client or
 * by the server. */
static void check_transfer(const char *enc_c2s, const char *mac_c2s, const char *enc_s2c,
			   const char *mac_s2c, bool server_rekeys)
{
	struct tc_opts o = {
		.enc_c2s = enc_c2s, .enc_s2c = enc_s2c, .mac_c2s = mac_c2s, .mac_s2c = mac_s2c};
	struct ssh_config cfg = {.window = 48 * 1024, .macs = ssh_alg_supported(SSH_ALG_MAC)};
	struct pair *p = connected(&o, &cfg);
	struct xfer x;

	assert_string_equal(p->c.mac[0]->name, mac_c2s);
	assert_string_equal(p->c.mac[1]->name, mac_s2c);
	struct ssh_channel *ch = xfer_open(p, &x, 200 * 1024);
	if (server_rekeys)
		x.server_rekey_at = 100 * 1024;
	else
		x.client_rekey_at = 100 * 1024;
	xfer_run(p, &x, ch);
	assert_int_equal(p->c.kex_count, 2);
	pair_free(p);
}

static void test_non_etm_transfer(void **state)
{
	(void)state;
	for (int srv = 0; srv < 2; srv++) {
		check_transfer("aes128-ctr", "hmac-sha2-256", "aes128-ctr", "hmac-sha2-256", srv);
		check_transfer("aes256-ctr", "hmac-sha2-512", "aes256-ctr", "hmac-sha2-512", srv);
		check_transfer("aes192-ctr", "hmac-sha2-256", "aes192-ctr", "hmac-sha2-512", srv);
		/* Each direction on its own: ETM one way, encrypt-and-MAC the other. */
		check_transfer("aes128-ctr", "hmac-sha2-256-etm@openssh.com", "aes256-ctr",
			       "hmac-sha2-512", srv);
		check_transfer("aes256-ctr", "hmac-sha2-512", "aes128-ctr",
			       "hmac-sha2-256-etm@openssh.com", srv);
	}
}

/* Nothing in common → KEY_EXCHANGE_FAILED with the list that failed (session.c logs it). */
static void expect_no_match(const struct tc_opts *o, const struct ssh_config *cfg, const char *text)
{
	struct pair *p = pair_new(o, cfg);

	p->client_err_ok = true;
	tc_start(&p->c);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	assert_string_equal(p->disc_text, text);
	pair_free(p);
}

/* The non-ETM MACs are supported but not offered unless configured (ssh-audit warns about
 * encrypt-and-MAC). */
/* The non-ETM pair is in the default, last (older clients have nothing else), and a
 * configured list without it refuses a client that offers only it. */
static void test_non_etm_default_last(void **state)
{
	(void)state;
	const char *def = ssh_alg_default(SSH_ALG_MAC);
	size_t n = strlen(def), tail = strlen(",hmac-sha2-256,hmac-sha2-512");
	assert_true(n > tail);
	assert_string_equal(def + n - tail, ",hmac-sha2-256,hmac-sha2-512");
	assert_non_null(strstr(ssh_alg_supported(SSH_ALG_MAC), ",hmac-sha2-256,hmac-sha2-512"));
	struct ssh_config cfg = {.macs = "hmac-sha2-256-etm@openssh.com"};
	expect_no_match(&(struct tc_opts){.enc_c2s = "aes128-ctr", .mac_c2s = "hmac-sha2-256"},
			&cfg, "no matching MAC");
}

/* ---- configured lists ---- */

/* Name-list i (0 kex ... 5 MAC s2c) of the server's KEXINIT as the client received it,
 * NUL-terminated in out. */
static void kexinit_list(struct pair *p, int i, char *out, size_t cap)
{
	struct sreader r;
	const uint8_t *l = NULL;
	size_t n = 0;

	assert_true(p->c.i_s.len > 17);
	sreader_init(&r, p->c.i_s.data + 17, p->c.i_s.len - 17);
	for (int k = 0; k <= i; k++)
		l = sreader_string(&r, &n);
	assert_false(r.err);
	assert_true(n < cap);
	memcpy(out, l, n);
	out[n] = '\0';
}

static void test_kexinit_default_lists(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	char l[512], want[512];
	(void)state;

	handshake(p);
	kexinit_list(p, 0, l, sizeof(l));
	snprintf(want, sizeof(want), "%s,kex-strict-s-v00@openssh.com",
		 ssh_alg_default(SSH_ALG_KEX));
	assert_string_equal(l, want);
	kexinit_list(p, 1, l, sizeof(l));
	assert_string_equal(l, "ssh-ed25519"); /* only what the host key can sign with */
	for (int i = 2; i < 4; i++) {
		kexinit_list(p, i, l, sizeof(l));
		assert_string_equal(l, ssh_alg_default(SSH_ALG_CIPHER));
		kexinit_list(p, i + 2, l, sizeof(l));
		assert_string_equal(l, ssh_alg_default(SSH_ALG_MAC));
	}
	pair_free(p);
}

/* The KEXINIT carries the configured lists in their order; negotiation picks from them
 * (the client's preference first, RFC 4253 §7.1). */
static void test_kexinit_configured_lists(void **state)
{
	struct ssh_config cfg = {
		.kex_algorithms = "curve25519-sha256@libssh.org,curve25519-sha256",
		.ciphers = "aes256-ctr,aes256-gcm@openssh.com",
		.macs = "hmac-sha2-512,hmac-sha2-256-etm@openssh.com",
		.host_key_algorithms = "rsa-sha2-256,ssh-ed25519,ecdsa-sha2-nistp256",
	};
	struct pair *p = connected(NULL, &cfg);
	char l[512];
	(void)state;

	kexinit_list(p, 0, l, sizeof(l));
	assert_string_equal(
		l, "curve25519-sha256@libssh.org,curve25519-sha256,kex-strict-s-v00@openssh.com");
	kexinit_list(p, 1, l, sizeof(l));
	assert_string_equal(l, "ssh-ed25519");
	kexinit_list(p, 2, l, sizeof(l));
	assert_string_equal(l, "aes256-ctr,aes256-gcm@openssh.com");
	kexinit_list(p, 5, l, sizeof(l));
	assert_string_equal(l, "hmac-sha2-512,hmac-sha2-256-etm@openssh.com");
	/* The client lists aes256-gcm before aes256-ctr. */
	assert_string_equal(p->c.enc[0]->name, "aes256-gcm@openssh.com");
	pair_free(p);

	/* A client that prefers CTR gets the configured MAC it lists first. */
	struct tc_opts o = {.enc_c2s = "aes256-ctr",
			    .enc_s2c = "aes256-ctr",
			    .mac_c2s = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512",
			    .mac_s2c = "hmac-sha2-512"};
	p = connected(&o, &cfg);
	assert_string_equal(p->c.mac[0]->name, "hmac-sha2-256-etm@openssh.com");
	assert_string_equal(p->c.mac[1]->name, "hmac-sha2-512");
	pair_free(p);
}

/* Names left out of a configured list are not negotiated, nor are names the engine does not
 * support even if a host put them in (alglist.h keeps them out; the engine doesn't rely on
 * it). */
static void test_configured_lists_refuse(void **state)
{
	struct ssh_config only_gcm = {.ciphers = "aes256-gcm@openssh.com"};
	struct ssh_config junk = {.ciphers = "aes128-cbc,aes128-ctr", .macs = "hmac-sha1"};
	struct ssh_config kex = {.kex_algorithms = "curve25519-sha256@libssh.org"};
	struct ssh_config hk = {.host_key_algorithms = "rsa-sha2-256,rsa-sha2-512"};
	(void)state;

	expect_no_match(&(struct tc_opts){.enc_c2s = "chacha20-poly1305@openssh.com"}, &only_gcm,
			"no matching cipher");
	expect_no_match(&(struct tc_opts){.enc_c2s = "aes128-cbc"}, &junk, "no matching cipher");
	expect_no_match(&(struct tc_opts){.enc_c2s = "aes128-ctr", .mac_c2s = "hmac-sha1"}, &junk,
			"no matching MAC");
	expect_no_match(&(struct tc_opts){.kex = "curve25519-sha256,kex-strict-c-v00@openssh.com"},
			&kex, "no matching key exchange method");
	/* The ed25519 host key can't sign with RSA algorithms: nothing is offered. */
	expect_no_match(&(struct tc_opts){.hostkey = "ssh-ed25519,rsa-sha2-256"}, &hk,
			"no matching host key type");
}

/* ---- tampered packets: the same refusal with and without ETM ---- */

/* Flips bit `bit` of byte `off` of the next packet (negative: from its end) and returns the
 * disconnect reason; the text goes to text. */
static uint32_t tamper(const char *cipher, const char *mac, long off, uint8_t bit, char *text,
		       size_t cap)
{
	struct pair *p = connected_suite(cipher, mac);
	struct ssh_channel *ch = open_channel(p, 7, 65536, 32768);
	(void)ch;

	tc_data(&p->c, 0, "tampered data packet", 20);
	size_t end = p->c.out.len;
	p->c.out.data[off < 0 ? (long)end + off : off] ^= bit;
	tc_data(&p->c, 0, "next", 4);
	tc_global_request(&p->c, "keepalive@openssh.com", true);
	tc_ignore(&p->c, 100);
	feed(p);
	drain(p);
	assert_int_equal(p->disconnects, 1);
	assert_true(ssh_closed(p->s));
	uint32_t reason = p->disc_reason;
	snprintf(text, cap, "%s", p->disc_text);
	p->client_err_ok = true;
	pair_free(p);
	return reason;
}

static void test_tamper_same_with_and_without_etm(void **state)
{
	/* tag, body, padding length, a misaligned length, an aligned one (length + 16) */
	static const struct {
		long off;
		uint8_t bit;
		uint32_t reason;
	} spots[] = {
		{-1, 0x01, SSH_DISCONNECT_MAC_ERROR},	  {-1, 0x80, SSH_DISCONNECT_MAC_ERROR},
		{8, 0x04, SSH_DISCONNECT_MAC_ERROR},	  {4, 0x01, SSH_DISCONNECT_MAC_ERROR},
		{3, 0x01, SSH_DISCONNECT_PROTOCOL_ERROR}, {3, 0x10, SSH_DISCONNECT_MAC_ERROR},
	};
	static const char *const suites[][3] = {
		{"aes128-ctr", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"},
		{"aes256-ctr", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-512"},
	};
	(void)state;

	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
			char etm_text[100], eam_text[100];
			uint32_t etm = tamper(suites[s][0], suites[s][1], spots[i].off,
					      spots[i].bit, etm_text, sizeof(etm_text));
			uint32_t eam = tamper(suites[s][0], suites[s][2], spots[i].off,
					      spots[i].bit, eam_text, sizeof(eam_text));
			assert_int_equal(etm, spots[i].reason);
			assert_int_equal(eam, spots[i].reason);
			assert_string_equal(etm_text, eam_text);
		}
	}
}

/* ---- the lists themselves ---- */

static void test_lists(void **state)
{
	(void)state;
	for (int k = 0; k < SSH_ALG_KINDS; k++) {
		const char *def = ssh_alg_default((enum ssh_alg_kind)k);
		const char *sup = ssh_alg_supported((enum ssh_alg_kind)k);
		assert_non_null(def);
		assert_non_null(sup);
		/* every default name is supported */
		for (const char *p = def; *p;) {
			size_t n = strcspn(p, ",");
			assert_true(alg_list_has(sup, (const uint8_t *)p, n));
			p += n + (p[n] == ',');
		}
	}
	assert_null(ssh_alg_default((enum ssh_alg_kind)SSH_ALG_KINDS));
	assert_null(strstr(ssh_alg_supported(SSH_ALG_HOSTKEY), "ssh-rsa"));
	assert_null(strstr(ssh_alg_supported(SSH_ALG_MAC), "sha1"));
	assert_true(alg_list_has("a,bb,c", (const uint8_t *)"bb", 2));
	assert_false(alg_list_has("a,bb,c", (const uint8_t *)"b", 1));
	assert_false(alg_list_has("", (const uint8_t *)"", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_non_etm_transfer),
		cmocka_unit_test(test_non_etm_default_last),
		cmocka_unit_test(test_kexinit_default_lists),
		cmocka_unit_test(test_kexinit_configured_lists),
		cmocka_unit_test(test_configured_lists_refuse),
		cmocka_unit_test(test_tamper_same_with_and_without_etm),
		cmocka_unit_test(test_lists),
	};
	if (pair_globals_init() != 0)
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return r;
}
