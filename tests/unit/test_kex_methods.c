/* Unit tests for the key exchange methods (src/ssh/kex_methods.h, kex_ecdh.c, kex_pq.c,
 * kex_dh.c): each method end to end against the test client (whose halves are in
 * sshtest_kex.c), with and without the libcrypto cache and across a re-key; the default and
 * supported lists; and every malformed client value refused with KEY_EXCHANGE_FAILED (wrong
 * lengths, points off the curve, e out of range, an ML-KEM key failing the modulus check, an
 * all-zero X25519 secret). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "engine_pair.h"
#include "ssh/kex_methods.h"
#include "ssh/ssh.h"

static const char *const all_methods[] = {
	"mlkem768x25519-sha256",
	"sntrup761x25519-sha512",
	"sntrup761x25519-sha512@openssh.com",
	"curve25519-sha256",
	"curve25519-sha256@libssh.org",
	"ecdh-sha2-nistp256",
	"ecdh-sha2-nistp384",
	"ecdh-sha2-nistp521",
	"diffie-hellman-group14-sha256",
	"diffie-hellman-group16-sha512",
	"diffie-hellman-group18-sha512",
};
#define N_METHODS (sizeof(all_methods) / sizeof(all_methods[0]))

/* A pair whose client offers only method (plus the usual markers) and whose engine offers
 * every supported method. */
static struct pair *method_pair(const char *method, struct tc_opts *o, char *kex, size_t kexlen)
{
	struct ssh_config cfg = {.kex_algorithms = KEX_SUPPORTED_LIST};

	snprintf(kex, kexlen, "%s,ext-info-c,kex-strict-c-v00@openssh.com", method);
	o->kex = kex;
	return pair_new(o, &cfg);
}

/* Key exchange, login, a transfer with a client re-key in the middle. */
static void check_method(const char *method, bool cache)
{
	struct tc_opts o = {0};
	char kex[128];
	struct pair *p = method_pair(method, &o, kex, sizeof(kex));
	struct xfer x;

	if (!cache) {
		ssh_free(p->s);
		p->cfg.crypto = NULL;
		p->s = ssh_new(&p->cfg);
	}
	handshake(p);
	assert_string_equal(p->c.kex_alg, method);
	assert_int_equal(p->c.session_id_len, EVP_MD_get_size(tc_kex_md(method)));
	authenticate(p);
	struct ssh_channel *ch = xfer_open(p, &x, 48 * 1024);
	x.client_rekey_at = 16 * 1024;
	xfer_run(p, &x, ch);
	assert_int_equal(p->c.kex_count, 2);
	assert_string_equal(p->c.err, "");
	pair_free(p);
}

static void test_each_method(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_METHODS; i++)
		check_method(all_methods[i], true);
}

static void test_each_method_no_cache(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_METHODS; i++)
		check_method(all_methods[i], false);
}

/* The server re-keys with the method the first exchange picked. */
static void test_server_rekey_hybrid(void **state)
{
	struct tc_opts o = {0};
	char kex[128];
	struct pair *p = method_pair("mlkem768x25519-sha256", &o, kex, sizeof(kex));
	struct xfer x;
	(void)state;

	handshake(p);
	authenticate(p);
	struct ssh_channel *ch = xfer_open(p, &x, 48 * 1024);
	x.server_rekey_at = 16 * 1024;
	xfer_run(p, &x, ch);
	assert_int_equal(p->c.kex_count, 2);
	pair_free(p);
}

static void test_lists_and_find(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_METHODS; i++) {
		const struct kex_method *m = kex_method_find(all_methods[i]);
		assert_non_null(m);
		assert_string_equal(m->name, all_methods[i]);
		assert_non_null(strstr(KEX_SUPPORTED_LIST, all_methods[i]));
		assert_int_equal(kex_hash_len(m->hash), EVP_MD_get_size(tc_kex_md(m->name)));
	}
	assert_string_equal(KEX_DEFAULT_LIST,
			    "mlkem768x25519-sha256,sntrup761x25519-sha512,"
			    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
			    "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
			    "ecdh-sha2-nistp521");
	assert_null(strstr(KEX_DEFAULT_LIST, "diffie-hellman"));
	assert_null(kex_method_find("diffie-hellman-group14-sha1"));
	assert_null(kex_method_find("diffie-hellman-group1-sha1"));
	assert_null(kex_method_find("kex-strict-s-v00@openssh.com"));
	assert_null(kex_method_find("ext-info-c"));
	assert_null(kex_method_find("curve25519-sha256 "));
	assert_null(kex_method_find(""));
	assert_null(kex_method_find(NULL));
}

/* The engine's first KEXINIT offers the default list and the strict-KEX marker. */
static void test_default_offer(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sreader r;
	size_t n;
	(void)state;

	handshake(p);
	sreader_init(&r, p->c.i_s.data + 17, p->c.i_s.len - 17);
	const uint8_t *l = sreader_string(&r, &n);
	assert_false(r.err);
	const char want[] = "mlkem768x25519-sha256,sntrup761x25519-sha512,"
			    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
			    "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
			    "ecdh-sha2-nistp521,kex-strict-s-v00@openssh.com";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(l, want, n);
	pair_free(p);
}

/* The finite-field groups are off unless ssh_config.kex_algorithms names them. */
static void test_dh_off_by_default(void **state)
{
	struct tc_opts o = {.kex = "diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,"
				   "diffie-hellman-group18-sha512,ext-info-c"};
	struct pair *p = pair_new(&o, NULL);
	(void)state;

	p->client_err_ok = true;
	tc_start(&p->c);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	assert_string_equal(p->disc_text, "no matching key exchange method");
	pair_free(p);
}

/* The client's preference wins among the methods both have. */
static void test_client_order_wins(void **state)
{
	struct tc_opts o = {.kex = "ecdh-sha2-nistp384,mlkem768x25519-sha256,ext-info-c"};
	struct pair *p = pair_new(&o, NULL);
	(void)state;

	handshake(p);
	assert_string_equal(p->c.kex_alg, "ecdh-sha2-nistp384");
	pair_free(p);
}

/* Sends KEX_ECDH_INIT with c_init (and extra trailing bytes) for method, without waiting
 * for the engine's KEXINIT; the engine must fail the key exchange. */
static void expect_refused(const char *method, const uint8_t *c_init, size_t len, bool trailing)
{
	struct tc_opts o = {0};
	char kex[128];
	struct pair *p = method_pair(method, &o, kex, sizeof(kex));
	struct sbuf b = {0};

	p->client_err_ok = true;
	tc_start(&p->c);
	sbuf_put_u8(&b, 30);
	sbuf_put_string(&b, c_init, len);
	if (trailing)
		sbuf_put_u8(&b, 0);
	tc_send_now(&p->c, b.data, b.len);
	sbuf_free(&b);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
	assert_string_equal(p->disc_text, "bad key exchange value"); /* negotiation passed */
	pair_free(p);
}

/* A real C_INIT for method, from the test client. */
static void make_c_init(const char *method, struct sbuf *c_init)
{
	struct tc_kex *kx;

	assert_int_equal(tc_kex_start(method, &kx, c_init), 0);
	tc_kex_free(kx);
}

/* One byte short or long, and trailing bytes after a good value, for every method. */
static void test_wrong_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_METHODS; i++) {
		struct sbuf v = {0};
		make_c_init(all_methods[i], &v);
		uint8_t *longer = calloc(1, v.len + 1);
		memcpy(longer, v.data, v.len);
		expect_refused(all_methods[i], v.data, v.len, true);
		expect_refused(all_methods[i], v.data, 0, false);
		if (strncmp(all_methods[i], "diffie", 6) != 0) { /* any length is a number */
			expect_refused(all_methods[i], v.data, v.len - 1, false);
			expect_refused(all_methods[i], longer, v.len + 1, false);
		}
		free(longer);
		sbuf_free(&v);
	}
}

/* RFC 5656 §4: points off the curve, compressed, infinity, coordinates out of the field. */
static void test_nist_bad_points(void **state)
{
	static const char *const curves[] = {"ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
					     "ecdh-sha2-nistp521"};
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		struct sbuf v = {0};
		make_c_init(curves[i], &v);
		size_t field = (v.len - 1) / 2;
		v.data[v.len - 1] ^= 1; /* y changed: off the curve */
		expect_refused(curves[i], v.data, v.len, false);
		v.data[v.len - 1] ^= 1;
		v.data[0] = 2 + (v.data[v.len - 1] & 1); /* compressed form, right length */
		expect_refused(curves[i], v.data, 1 + field, false);
		v.data[0] = 4;
		memset(v.data + 1, 0xff, 2 * field); /* coordinates >= p */
		expect_refused(curves[i], v.data, v.len, false);
		memset(v.data + 1, 0, 2 * field); /* (0, 0) is not on these curves */
		expect_refused(curves[i], v.data, v.len, false);
		uint8_t inf = 0; /* the point at infinity's encoding */
		expect_refused(curves[i], &inf, 1, false);
		sbuf_free(&v);
	}
}

/* p of a DH group, from libcrypto, as big-endian bytes. */
static size_t group_p(const char *group, uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *k = NULL;
	BIGNUM *p = NULL;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_paramgen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_group_name(ctx, group), 1);
	assert_int_equal(EVP_PKEY_paramgen(ctx, &k), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_FFC_P, &p), 1);
	size_t n = (size_t)BN_bn2bin(p, out);
	BN_free(p);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	return n;
}

/* An mpint body for the big-endian number v (n bytes) plus delta (-1, 0, +1). */
static size_t mpint_body(const uint8_t *v, size_t n, int delta, uint8_t *out)
{
	BIGNUM *b = BN_bin2bn(v, (int)n, NULL);

	if (delta < 0)
		BN_sub_word(b, 1);
	else if (delta > 0)
		BN_add_word(b, 1);
	size_t len = (size_t)BN_num_bytes(b), off = BN_num_bits(b) % 8 == 0 ? 1 : 0;
	out[0] = 0;
	BN_bn2bin(b, out + off);
	BN_free(b);
	return len + off;
}

/* RFC 4253 §8: e outside 1 < e < p-1, negative or badly encoded mpints. */
static void test_dh_e_out_of_range(void **state)
{
	static const char *const groups[][2] = {
		{"diffie-hellman-group14-sha256", "modp_2048"},
		{"diffie-hellman-group16-sha512", "modp_4096"},
		{"diffie-hellman-group18-sha512", "modp_8192"},
	};
	uint8_t p[1024], e[1100];
	const uint8_t one = 1, neg[2] = {0xff, 0x01}, padded[3] = {0, 0, 5};
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		const char *m = groups[i][0];
		size_t pn = group_p(groups[i][1], p);
		expect_refused(m, &one, 1, false);
		expect_refused(m, neg, 2, false);
		expect_refused(m, padded, 3, false);
		expect_refused(m, e, mpint_body(p, pn, -1, e), false); /* p-1 */
		expect_refused(m, e, mpint_body(p, pn, 0, e), false);  /* p */
		expect_refused(m, e, mpint_body(p, pn, 1, e), false);  /* p+1 */
		memset(e + 1, 0xff, pn);			       /* 2^8n - 1 */
		e[0] = 0;
		expect_refused(m, e, pn + 1, false);
	}
	/* 2 is a fine e (so the checks above are not refusing everything). */
	struct tc_opts o = {0};
	char kex[128];
	struct pair *pr = method_pair("diffie-hellman-group14-sha256", &o, kex, sizeof(kex));
	handshake(pr);
	pair_free(pr);
}

/* FIPS 203 §7.2: an encapsulation key with a coefficient >= q is refused; so is an all-zero
 * X25519 secret in either hybrid. */
static void test_hybrid_bad_keys(void **state)
{
	struct sbuf v = {0};
	(void)state;

	make_c_init("mlkem768x25519-sha256", &v);
	uint8_t b0 = v.data[0], b1 = v.data[1];
	v.data[0] = 0xff; /* coefficient 0 = 0xfff = 4095 */
	v.data[1] |= 0x0f;
	expect_refused("mlkem768x25519-sha256", v.data, v.len, false);
	v.data[0] = 0x01; /* coefficient 0 = 3329 = 0xd01 */
	v.data[1] = (uint8_t)((v.data[1] & 0xf0) | 0x0d);
	expect_refused("mlkem768x25519-sha256", v.data, v.len, false);
	v.data[0] = b0;
	v.data[1] = b1;
	memset(v.data + v.len - 32, 0, 32); /* X25519 point 0: all-zero secret */
	expect_refused("mlkem768x25519-sha256", v.data, v.len, false);
	sbuf_free(&v);

	make_c_init("sntrup761x25519-sha512", &v);
	memset(v.data + v.len - 32, 0, 32);
	expect_refused("sntrup761x25519-sha512", v.data, v.len, false);
	expect_refused("sntrup761x25519-sha512@openssh.com", v.data, v.len, false);
	sbuf_free(&v);
	uint8_t zero[32] = {0};
	expect_refused("curve25519-sha256@libssh.org", zero, 32, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists_and_find),
		cmocka_unit_test(test_default_offer),
		cmocka_unit_test(test_each_method),
		cmocka_unit_test(test_each_method_no_cache),
		cmocka_unit_test(test_server_rekey_hybrid),
		cmocka_unit_test(test_dh_off_by_default),
		cmocka_unit_test(test_client_order_wins),
		cmocka_unit_test(test_wrong_lengths),
		cmocka_unit_test(test_nist_bad_points),
		cmocka_unit_test(test_dh_e_out_of_range),
		cmocka_unit_test(test_hybrid_bad_keys),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return rc;
}
