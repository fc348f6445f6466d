/* Unit tests for the bounds on a client's public key (src/ssh/key.c: key_from_blob, the
 * USERAUTH_REQUEST path, and ssh_key_from_blob, which loads authorized keys): RSA modulus and
 * exponent sizes, ECDSA points on their curve, Ed25519 key length. The blobs are built by hand
 * (a modulus needn't be a product of primes to be parsed), and the engine's answer to such a
 * key is checked through the engine_pair.h harness. */
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
#include "ssh/internal.h"
#include "ssh/key.h"

static void put_bn(struct sbuf *b, const BIGNUM *bn)
{
	size_t n = (size_t)BN_num_bytes(bn);
	uint8_t *tmp = malloc(n ? n : 1);

	BN_bn2bin(bn, tmp);
	tc_put_mpint(b, tmp, n);
	free(tmp);
}

/* A random odd number of exactly `bits` bits. */
static BIGNUM *rand_odd(int bits)
{
	BIGNUM *bn = BN_new();

	assert_non_null(bn);
	assert_int_equal(BN_rand(bn, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD), 1);
	return bn;
}

/* "ssh-rsa" blob with a random odd modulus of n_bits and exponent e. */
static void rsa_blob(struct sbuf *b, int n_bits, const BIGNUM *e)
{
	BIGNUM *n = rand_odd(n_bits);

	sbuf_put_cstring(b, "ssh-rsa");
	put_bn(b, e);
	put_bn(b, n);
	BN_free(n);
}

/* Whether key_from_blob (client keys) and ssh_key_from_blob (loading) take the blob. */
static void check_blob(const struct sbuf *b, bool auth_ok, bool load_ok)
{
	struct ssh_key *k = NULL;

	assert_int_equal(key_from_blob(NULL, b->data, b->len, &k) == 0, auth_ok);
	ssh_key_free(k);
	k = NULL;
	assert_int_equal(ssh_key_from_blob(b->data, b->len, &k) == 0, load_ok);
	ssh_key_free(k);
}

static void check_rsa(int n_bits, const BIGNUM *e, bool auth_ok, bool load_ok)
{
	struct sbuf b = {0};

	rsa_blob(&b, n_bits, e);
	check_blob(&b, auth_ok, load_ok);
	sbuf_free(&b);
}

/* A client's RSA key has 2048 to 16384 bits; 1024 still loads (OpenSSH's minimum), but can't
 * be used to log in. */
static void test_rsa_modulus_bounds(void **state)
{
	BIGNUM *e = BN_new();
	(void)state;

	assert_int_equal(BN_set_word(e, 65537), 1);
	check_rsa(1024, e, false, true);
	check_rsa(2047, e, false, true);
	check_rsa(2048, e, true, true);
	check_rsa(3072, e, true, true);
	check_rsa(16384, e, true, true);
	check_rsa(16385, e, false, false);
	check_rsa(1023, e, false, false);
	BN_free(e);
}

/* Exponents: odd, 3 to 2^32 - 1. A 3072-bit modulus is the largest for which OpenSSL itself
 * takes any exponent, so a 3070-bit one there would make each verification cost a private-key
 * operation. */
static void test_rsa_exponent_bounds(void **state)
{
	BIGNUM *e = BN_new();
	(void)state;

	assert_int_equal(BN_set_word(e, 3), 1);
	check_rsa(2048, e, true, true);
	assert_int_equal(BN_set_word(e, 0xffffffffUL), 1); /* 2^32 - 1 */
	check_rsa(2048, e, true, true);
	assert_int_equal(BN_set_word(e, 0x100000001ULL), 1); /* 2^32 + 1 */
	check_rsa(2048, e, false, false);
	assert_int_equal(BN_set_word(e, 65536), 1); /* even */
	check_rsa(2048, e, false, false);
	assert_int_equal(BN_set_word(e, 1), 1);
	check_rsa(2048, e, false, false);
	BN_free(e);

	e = rand_odd(3070);
	check_rsa(3072, e, false, false);
	BN_free(e);
	e = rand_odd(64);
	check_rsa(4096, e, false, false);
	BN_free(e);
}

/* The uncompressed point of a fresh key on `group`, as the blob carries it. */
static size_t ec_point(const char *group, uint8_t *q, size_t max)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	size_t n = 0;

	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, q, max, &n),
			 1);
	EVP_PKEY_free(pk);
	return n;
}

static void ecdsa_blob(struct sbuf *b, const char *name, const char *curve, const uint8_t *q,
		       size_t qlen)
{
	sbuf_reset(b);
	sbuf_put_cstring(b, name);
	sbuf_put_cstring(b, curve);
	sbuf_put_string(b, q, qlen);
}

/* ECDSA points must lie on their curve: a changed coordinate, the all-zero point and the
 * point at infinity are refused; the negated point (x, p - y) is a point and is taken. */
static void test_ecdsa_point_on_curve(void **state)
{
	static const struct {
		const char *name, *curve, *group;
	} curves[] = {
		{"ecdsa-sha2-nistp256", "nistp256", "P-256"},
		{"ecdsa-sha2-nistp384", "nistp384", "P-384"},
		{"ecdsa-sha2-nistp521", "nistp521", "P-521"},
	};
	struct sbuf b = {0};
	uint8_t q[1 + 2 * 66];
	(void)state;

	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		size_t n = ec_point(curves[i].group, q, sizeof(q)), flen = (n - 1) / 2;
		ecdsa_blob(&b, curves[i].name, curves[i].curve, q, n);
		check_blob(&b, true, true);

		q[n - 1] ^= 1; /* y off by one */
		ecdsa_blob(&b, curves[i].name, curves[i].curve, q, n);
		check_blob(&b, false, false);
		q[n - 1] ^= 1;
		q[1 + flen / 2] ^= 0x40; /* x changed */
		ecdsa_blob(&b, curves[i].name, curves[i].curve, q, n);
		check_blob(&b, false, false);
		q[1 + flen / 2] ^= 0x40;

		/* -Q = (x, p - y) is on the curve too. */
		BIGNUM *p = BN_new(), *y = BN_bin2bn(q + 1 + flen, (int)flen, NULL);
		EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i].group);
		assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_P, &p), 1);
		assert_int_equal(BN_sub(y, p, y), 1);
		uint8_t neg[1 + 2 * 66];
		memcpy(neg, q, 1 + flen);
		assert_int_equal(BN_bn2binpad(y, neg + 1 + flen, (int)flen), (int)flen);
		ecdsa_blob(&b, curves[i].name, curves[i].curve, neg, n);
		check_blob(&b, true, true);
		EVP_PKEY_free(pk);
		BN_free(p);
		BN_free(y);

		memset(neg + 1, 0, n - 1); /* (0, 0) */
		ecdsa_blob(&b, curves[i].name, curves[i].curve, neg, n);
		check_blob(&b, false, false);
		ecdsa_blob(&b, curves[i].name, curves[i].curve, (const uint8_t *)"\0", 1);
		check_blob(&b, false, false); /* infinity */
	}
	sbuf_free(&b);
}

/* Ed25519 keys are exactly 32 bytes. */
static void test_ed25519_length(void **state)
{
	struct sbuf b = {0};
	size_t bl;
	const uint8_t *blob = ssh_key_blob(user_key, &bl);
	(void)state;

	assert_int_equal(bl, 4 + 11 + 4 + 32);
	sbuf_put(&b, blob, bl);
	check_blob(&b, true, true);
	for (size_t n = 0; n <= 64; n++) {
		if (n == 32)
			continue;
		uint8_t raw[64];
		memset(raw, 0x5a, sizeof(raw));
		sbuf_reset(&b);
		sbuf_put_cstring(&b, "ssh-ed25519");
		sbuf_put_string(&b, raw, n);
		check_blob(&b, false, false);
	}
	sbuf_free(&b);
}

/* Through the engine: a query with an out-of-bounds key is refused before the host hears of
 * it (AUTH_REFUSED, so it still counts), and the session goes on. */
static void test_engine_refuses_out_of_bounds_keys(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sbuf m, blob = {0}, b = {0};
	struct sreader r;
	struct ssh_event ev;
	BIGNUM *e = BN_new(), *big_e = rand_odd(3070);
	(void)state;

	handshake(p);
	service_accepted(p);
	assert_int_equal(BN_set_word(e, 65537), 1);
	for (int i = 0; i < 2; i++) {
		sbuf_reset(&blob);
		if (i == 0)
			rsa_blob(&blob, 1024, e);
		else
			rsa_blob(&blob, 3072, big_e);
		sbuf_put_u8(&b, 50);
		sbuf_put_cstring(&b, "alice");
		sbuf_put_cstring(&b, "ssh-connection");
		sbuf_put_cstring(&b, "publickey");
		sbuf_put_u8(&b, 0);
		sbuf_put_cstring(&b, "rsa-sha2-256");
		sbuf_put_string(&b, blob.data, blob.len);
		tc_send_sbuf(&p->c, &b);
		feed(p);
		expect_event(p, &ev, SSH_EV_AUTH_REFUSED);
		assert_string_equal(ev.text, "key refused");
		expect_no_event(p);
		s2c(p);
		expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
		sbuf_free(&m);
	}
	assert_int_equal(p->disconnects, 0);
	auth_signed_ok(p);
	sbuf_free(&blob);
	BN_free(e);
	BN_free(big_e);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_modulus_bounds),
		cmocka_unit_test(test_rsa_exponent_bounds),
		cmocka_unit_test(test_ecdsa_point_on_curve),
		cmocka_unit_test(test_ed25519_length),
		cmocka_unit_test(test_engine_refuses_out_of_bounds_keys),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return rc;
}
