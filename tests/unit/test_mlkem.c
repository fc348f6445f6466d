/* Unit tests for src/ssh/mlkem768.c (ML-KEM-768 encapsulation, FIPS 203): the field
 * arithmetic and Compress against exact division for every input, the NTT tables, NIST ACVP
 * and Wycheproof known answers (tests/unit/mlkem_vectors.h), the §7.2 key checks, the
 * XOF fallback of SampleNTT, and Go's 10,000-iteration accumulated test, which needs key
 * generation and decapsulation: those come from the test-only tests/unit/mlkem_ref.c.
 *
 * The module is #included so that its static helpers can be tested directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <valgrind/memcheck.h>

#include "mlkem_ref.c"
#include "mlkem_vectors.h"
#include "ssh/mlkem768.c"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void tohex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	}
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
	uint8_t md[32];

	assert_int_equal(EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL), 1);
	tohex(md, 32, out);
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		acc |= p[i];
	}
	return acc == 0;
}

/* A valid key from the test-only key generation, seed bytes all `b`. */
static void make_key(uint8_t ek[MLKEM768_EK_BYTES], uint8_t dk[REF_DK], uint8_t b)
{
	uint8_t seed[64];

	memset(seed, b, sizeof(seed));
	ref_keygen(ek, dk, seed);
}

/* ---- arithmetic and tables ---- */

static void test_reduce_every_input(void **state)
{
	(void)state;
	for (uint32_t x = 0; x < 2u * MLKEM_Q * MLKEM_Q; x++) {
		if (fq_reduce(x) != x % MLKEM_Q) {
			fail_msg("fq_reduce(%u) = %u", x, fq_reduce(x));
		}
	}
	for (uint32_t a = 0; a < MLKEM_Q; a++) {
		for (uint32_t b = 0; b < MLKEM_Q; b += 7) {
			assert_int_equal(fq_add((uint16_t)a, (uint16_t)b), (a + b) % MLKEM_Q);
			assert_int_equal(fq_sub((uint16_t)a, (uint16_t)b),
					 (a + MLKEM_Q - b) % MLKEM_Q);
			assert_int_equal(fq_mul((uint16_t)a, (uint16_t)b), a * b % MLKEM_Q);
		}
	}
}

/* Compress_d with multiply-and-shift against exact rounding division, every x in [0, q):
 * round(2^d x / q) = floor((2^(d+1) x + q) / 2q), reduced mod 2^d (§4.2.1). */
static void test_compress_exact(void **state)
{
	static const unsigned ds[] = {MLKEM_DV, MLKEM_DU};

	(void)state;
	for (size_t k = 0; k < NELEM(ds); k++) {
		unsigned d = ds[k];
		for (uint32_t x = 0; x < MLKEM_Q; x++) {
			uint32_t exact = (((x << (d + 1)) + MLKEM_Q) / (2 * MLKEM_Q)) % (1u << d);
			if (fq_compress((uint16_t)x, d) != exact) {
				fail_msg("Compress_%u(%u) = %u, expected %u", d, x,
					 fq_compress((uint16_t)x, d), exact);
			}
		}
	}
}

static void test_zeta_tables(void **state)
{
	(void)state;
	ref_init();
	for (unsigned i = 0; i < 128; i++) {
		assert_int_equal(zetas[i], ref_zetas[i]);
		assert_int_equal(gammas[i], ref_gammas[i]);
	}
}

/* Barrett, the conditional subtraction and Compress must not turn into branches the data
 * picks; what the compiler made of it is checked with valgrind (docs/pq-kex.md). Here: the
 * NTT and its inverse are inverses, for a polynomial with every coefficient value. */
static void test_ntt_roundtrip(void **state)
{
	struct poly f, g;

	(void)state;
	for (unsigned j = 0; j < MLKEM_N; j++) {
		f.c[j] = (uint16_t)((j * 1237 + 11) % MLKEM_Q);
	}
	g = f;
	poly_ntt(&g);
	poly_invntt(&g);
	assert_memory_equal(f.c, g.c, sizeof(f.c));
}

/* ---- known answers ---- */

static void check_case(const struct mv_case *v)
{
	uint8_t ek[MLKEM768_EK_BYTES + 64], m[32], ct[MLKEM768_CT_BYTES], ss[32], k[32];
	char got[65];
	size_t ek_len = unhex(v->ek_hex, ek, sizeof(ek));
	int ret;

	unhex(v->m_hex, m, sizeof(m));
	memset(ct, 0xaa, sizeof(ct));
	memset(ss, 0xaa, sizeof(ss));
	ret = mlkem768_encaps_derand(ct, ss, ek, ek_len, m);
	if (!v->valid) {
		if (ret != MLKEM768_ERR_KEY) {
			fail_msg("%s: accepted an invalid key (%d)", v->name, ret);
		}
		assert_int_equal(mlkem768_check_ek(ek, ek_len), MLKEM768_ERR_KEY);
		assert_true(all_zero(ct, sizeof(ct)) && all_zero(ss, sizeof(ss)));
		return;
	}
	if (ret != 0) {
		fail_msg("%s: refused (%d)", v->name, ret);
	}
	unhex(v->k_hex, k, sizeof(k));
	if (memcmp(ss, k, 32) != 0) {
		fail_msg("%s: wrong shared secret", v->name);
	}
	sha256_hex(ct, sizeof(ct), got);
	if (strcmp(got, v->c_sha256) != 0) {
		fail_msg("%s: wrong ciphertext", v->name);
	}
}

static void test_acvp(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(mv_acvp); i++) {
		check_case(&mv_acvp[i]);
	}
	print_message("ACVP: %zu vectors passed\n", NELEM(mv_acvp));
}

static void test_wycheproof(void **state)
{
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(mv_wycheproof); i++) {
		check_case(&mv_wycheproof[i]);
		bad += !mv_wycheproof[i].valid;
	}
	print_message("Wycheproof: %zu vectors passed (%zu invalid keys refused)\n",
		      NELEM(mv_wycheproof), bad);
}

/* ---- key checks (§7.2) ---- */

static void test_lengths(void **state)
{
	uint8_t ek[MLKEM768_EK_BYTES + 1], dk[REF_DK], ct[MLKEM768_CT_BYTES], ss[32];

	(void)state;
	ref_init();
	make_key(ek, dk, 1);
	ek[MLKEM768_EK_BYTES] = 0;
	for (size_t n = 0; n <= MLKEM768_EK_BYTES + 1; n++) {
		int want = n == MLKEM768_EK_BYTES ? 0 : MLKEM768_ERR_KEY;
		assert_int_equal(mlkem768_check_ek(ek, n), want);
	}
	assert_int_equal(mlkem768_check_ek(NULL, MLKEM768_EK_BYTES), MLKEM768_ERR_KEY);
	assert_int_equal(mlkem768_encaps(ct, ss, ek, MLKEM768_EK_BYTES + 1), MLKEM768_ERR_KEY);
	assert_int_equal(mlkem768_encaps(ct, ss, ek, MLKEM768_EK_BYTES - 1), MLKEM768_ERR_KEY);
	assert_int_equal(mlkem768_encaps(ct, ss, ek, MLKEM768_EK_BYTES), 0);
}

/* Writes the 12-bit value x as coefficient j of ek's encoded t_hat. */
static void set_coeff(uint8_t *ek, unsigned j, uint16_t x)
{
	uint8_t *b = ek + 3 * (j / 2);

	if (j % 2 == 0) {
		b[0] = (uint8_t)x;
		b[1] = (uint8_t)((b[1] & 0xf0) | (x >> 8));
	} else {
		b[1] = (uint8_t)((b[1] & 0x0f) | ((x & 0x0f) << 4));
		b[2] = (uint8_t)(x >> 4);
	}
}

/* Every coefficient position: q - 1 passes, q and 4095 fail the modulus check. */
static void test_modulus_check(void **state)
{
	uint8_t ek[MLKEM768_EK_BYTES], dk[REF_DK], bad[MLKEM768_EK_BYTES];
	uint8_t ct[MLKEM768_CT_BYTES], ss[32], m[32] = {7};

	(void)state;
	ref_init();
	make_key(ek, dk, 2);
	for (unsigned j = 0; j < MLKEM_K * MLKEM_N; j++) {
		memcpy(bad, ek, sizeof(bad));
		set_coeff(bad, j, MLKEM_Q - 1);
		assert_int_equal(mlkem768_check_ek(bad, sizeof(bad)), 0);
		set_coeff(bad, j, MLKEM_Q);
		assert_int_equal(mlkem768_check_ek(bad, sizeof(bad)), MLKEM768_ERR_KEY);
		set_coeff(bad, j, 4095);
		assert_int_equal(mlkem768_check_ek(bad, sizeof(bad)), MLKEM768_ERR_KEY);
	}
	set_coeff(bad, 17, MLKEM_Q);
	memset(ct, 1, sizeof(ct));
	assert_int_equal(mlkem768_encaps_derand(ct, ss, bad, sizeof(bad), m), MLKEM768_ERR_KEY);
	assert_true(all_zero(ct, sizeof(ct)) && all_zero(ss, sizeof(ss)));
	/* rho is not checked: any 32 bytes are a valid seed. */
	memset(ek + RHO_OFF, 0xff, 32);
	assert_int_equal(mlkem768_check_ek(ek, sizeof(ek)), 0);
}

/* ---- SampleNTT's second, longer XOF call ---- */

/* Finds seeds whose first XOF_FIRST bytes hold fewer than 256 accepted coefficients (about
 * one in a hundred) and checks sample_ntt against the reference for them. */
static void test_sample_ntt_fallback(void **state)
{
	struct mlkem_md h;
	uint8_t rho[32] = {0}, buf[XOF_FIRST], idx[2] = {0, 0};
	struct poly a, scratch;
	int32_t want[MLKEM_N];
	unsigned found = 0;

	(void)state;
	ref_init();
	assert_int_equal(md_fetch(&h), 0);
	for (uint32_t n = 0; n < 20000 && found < 5; n++) {
		memcpy(rho, &n, sizeof(n));
		assert_int_equal(md_hash(&h, h.shake128, rho, 32, idx, 2, buf, sizeof(buf)), 0);
		if (sample_ntt_take(&scratch, buf, sizeof(buf)) == MLKEM_N) {
			continue;
		}
		found++;
		assert_int_equal(sample_ntt(&h, &a, rho, 0, 0), 0);
		ref_sample_ntt(want, rho, 0, 0);
		for (unsigned j = 0; j < MLKEM_N; j++) {
			assert_int_equal(a.c[j], want[j]);
		}
	}
	md_free(&h);
	assert_int_equal(found, 5);
}

/* ---- constant time ---- */

/* Under valgrind (docs/pq-kex.md), a smoke check of constant time: m is marked undefined,
 * so memcheck reports every branch, table index or libcrypto call whose outcome depends on
 * it or on anything computed from it (K, r, y, e1, e2, u, v). Outside valgrind the marks
 * do nothing and this is one more encapsulation. */
static void test_secret_taint(void **state)
{
	uint8_t ek[MLKEM768_EK_BYTES], dk[REF_DK], m[32], ct[MLKEM768_CT_BYTES], ss[32], k[32];

	(void)state;
	ref_init();
	make_key(ek, dk, 3);
	for (int i = 0; i < 4; i++) {
		memset(m, 0x11 * i, sizeof(m));
		VALGRIND_MAKE_MEM_UNDEFINED(m, sizeof(m));
		assert_int_equal(mlkem768_encaps_derand(ct, ss, ek, sizeof(ek), m), 0);
		VALGRIND_MAKE_MEM_DEFINED(ct, sizeof(ct));
		VALGRIND_MAKE_MEM_DEFINED(ss, sizeof(ss));
		ref_decaps(k, dk, ct);
		assert_memory_equal(k, ss, 32);
	}
}

/* ---- round trips and Go's accumulated test ---- */

/* Random m (mlkem768_encaps), decapsulated by the reference: same secret, and two calls
 * give different ciphertexts. */
static void test_random_roundtrip(void **state)
{
	uint8_t ek[MLKEM768_EK_BYTES], dk[REF_DK];
	uint8_t ct[MLKEM768_CT_BYTES], ct2[MLKEM768_CT_BYTES], ss[32], ss2[32], k[32];

	(void)state;
	ref_init();
	for (uint8_t b = 0; b < 20; b++) {
		make_key(ek, dk, b);
		assert_int_equal(mlkem768_encaps(ct, ss, ek, sizeof(ek)), 0);
		assert_int_equal(mlkem768_encaps(ct2, ss2, ek, sizeof(ek)), 0);
		assert_memory_not_equal(ct, ct2, sizeof(ct));
		assert_memory_not_equal(ss, ss2, sizeof(ss));
		ref_decaps(k, dk, ct);
		assert_memory_equal(k, ss, 32);
		ref_decaps(k, dk, ct2);
		assert_memory_equal(k, ss2, 32);
	}
}

/* Go's crypto/internal mlkem768 TestAccumulated (FIPS 203 final), 10,000 iterations: from
 * one SHAKE128 stream of the empty input read seed (64 bytes: d || z), m (32) and a random
 * ciphertext (1088) per iteration; write ek, c, K and the implicit-rejection key of the
 * random ciphertext to a second SHAKE128, whose first 32 bytes are the expected hash. */
#define ACC_N	     10000
#define ACC_STEP     (64 + 32 + MLKEM768_CT_BYTES)
#define ACC_EXPECTED "8a518cc63da366322a8e7a818c7a0d63483cb3528d34a4cf42f35d5ad73f22fc"

static void test_accumulated(void **state)
{
	uint8_t *stream = malloc((size_t)ACC_N * ACC_STEP), *p = stream;
	uint8_t ek[MLKEM768_EK_BYTES], dk[REF_DK], ct[MLKEM768_CT_BYTES], k[32], k2[32], out[32];
	EVP_MD_CTX *o = EVP_MD_CTX_new();
	char hex[65];
	clock_t t0, spent = 0;

	(void)state;
	ref_init();
	assert_non_null(stream);
	ref_digest("SHAKE128", (const uint8_t *)"", 0, NULL, 0, stream, (size_t)ACC_N * ACC_STEP);
	assert_int_equal(EVP_DigestInit_ex(o, EVP_shake128(), NULL), 1);
	for (unsigned i = 0; i < ACC_N; i++, p += ACC_STEP) {
		ref_keygen(ek, dk, p);
		EVP_DigestUpdate(o, ek, sizeof(ek));
		t0 = clock();
		assert_int_equal(mlkem768_encaps_derand(ct, k, ek, sizeof(ek), p + 64), 0);
		spent += clock() - t0;
		EVP_DigestUpdate(o, ct, sizeof(ct));
		EVP_DigestUpdate(o, k, sizeof(k));
		ref_decaps(k2, dk, ct);
		assert_memory_equal(k, k2, 32);
		ref_decaps(k2, dk, p + 96);
		EVP_DigestUpdate(o, k2, sizeof(k2));
	}
	assert_int_equal(EVP_DigestFinalXOF(o, out, sizeof(out)), 1);
	tohex(out, sizeof(out), hex);
	assert_string_equal(hex, ACC_EXPECTED);
	print_message("accumulated: %u iterations match; encaps %.0f per second\n", ACC_N,
		      ACC_N / ((double)spent / CLOCKS_PER_SEC));
	EVP_MD_CTX_free(o);
	free(stream);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reduce_every_input),
		cmocka_unit_test(test_compress_exact),
		cmocka_unit_test(test_zeta_tables),
		cmocka_unit_test(test_ntt_roundtrip),
		cmocka_unit_test(test_acvp),
		cmocka_unit_test(test_wycheproof),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_modulus_check),
		cmocka_unit_test(test_sample_ntt_fallback),
		cmocka_unit_test(test_secret_taint),
		cmocka_unit_test(test_random_roundtrip),
		cmocka_unit_test(test_accumulated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
