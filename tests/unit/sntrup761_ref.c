/* TEST CODE ONLY (see sntrup761_ref.h): NIST's KAT DRBG, and sntrup761 key generation and
 * decapsulation from "NTRU Prime: round 3" (Streamlined NTRU Prime Core: KeyGen, Decrypt; the
 * KEM: KeyGen', Decap), on top of the module's own arithmetic and Hide. Variable time. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sntrup761_ref.h"
#include "ssh/sntrup761_internal.h"

#define P   SNTRUP761_P
#define Q   SNTRUP761_Q
#define Q12 SNTRUP761_Q12

/* ---- NIST PQC rng.c, AES256_CTR_DRBG ---- */

static void aes256_block(const uint8_t key[32], const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, in, 16) != 1 || n != 16) {
		abort();
	}
	EVP_CIPHER_CTX_free(ctx);
}

/* V as a 128-bit big-endian counter. */
static void v_increment(uint8_t v[16])
{
	for (int j = 15; j >= 0; j--) {
		if (++v[j] != 0) {
			break;
		}
	}
}

/* CTR_DRBG_Update: three blocks of keystream, xored with the provided data (or not), become
 * the next key and V. */
static void drbg_update(struct ref_rng *g, const uint8_t *data48)
{
	uint8_t t[48];

	for (int i = 0; i < 3; i++) {
		v_increment(g->v);
		aes256_block(g->key, g->v, t + 16 * i);
	}
	if (data48 != NULL) {
		for (int i = 0; i < 48; i++) {
			t[i] ^= data48[i];
		}
	}
	memcpy(g->key, t, 32);
	memcpy(g->v, t + 32, 16);
}

void ref_rng_init(struct ref_rng *g, const uint8_t seed[48], bool words_at_once)
{
	memset(g, 0, sizeof(*g));
	g->words_at_once = words_at_once;
	drbg_update(g, seed);
}

void ref_rng_bytes(struct ref_rng *g, uint8_t *out, size_t n)
{
	uint8_t block[16];

	if (g == NULL) {
		if (RAND_bytes(out, (int)n) != 1) {
			abort();
		}
		return;
	}
	while (n > 0) {
		size_t k = n < 16 ? n : 16;
		v_increment(g->v);
		aes256_block(g->key, g->v, block);
		memcpy(out, block, k);
		out += k;
		n -= k;
	}
	drbg_update(g, NULL);
}

void ref_rng_words(struct ref_rng *g, uint8_t out[4 * P])
{
	if (g == NULL || g->words_at_once) {
		ref_rng_bytes(g, out, 4 * P);
		return;
	}
	for (int i = 0; i < P; i++) {
		ref_rng_bytes(g, out + 4 * i, 4);
	}
}

static void words_of(uint32_t w[P], const uint8_t b[4 * P])
{
	for (int i = 0; i < P; i++) {
		w[i] = b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
		       (uint32_t)b[4 * i + 3] << 24;
	}
}

/* ---- polynomial inverse over a prime field, modulo x^p - x - 1 ---- */

static int32_t mod_n(int64_t x, int32_t n)
{
	x %= n;
	return (int32_t)(x < 0 ? x + n : x);
}

static int32_t inv_n(int32_t a, int32_t n)
{
	int64_t r = 1, b = a, e = n - 2;

	for (; e > 0; e >>= 1) {
		if (e & 1) {
			r = r * b % n;
		}
		b = b * b % n;
	}
	return (int32_t)r;
}

static int degree(const int32_t *a, int top)
{
	while (top >= 0 && a[top] == 0) {
		top--;
	}
	return top;
}

/* Cancels the leading term of *r0 with r1 (degree d1), mirroring the step on the cofactors:
 * the Euclidean division one quotient term at a time. Returns the new degree of *r0. */
static int eliminate(int32_t *r0, int d0, const int32_t *r1, int d1, int32_t *s0, const int32_t *s1,
		     int32_t n)
{
	int32_t c = mod_n((int64_t)r0[d0] * inv_n(r1[d1], n), n);
	int k = d0 - d1;

	for (int i = 0; i <= d1; i++) {
		r0[i + k] = mod_n(r0[i + k] - (int64_t)c * r1[i], n);
	}
	for (int i = 0; i + k <= P; i++) {
		s0[i + k] = mod_n(s0[i + k] - (int64_t)c * s1[i], n);
	}
	return degree(r0, d0);
}

int ref_poly_inv(int32_t out[P], const int32_t a[P], int32_t n)
{
	int32_t buf[4][P + 1] = {{0}};
	int32_t *r0 = buf[0], *r1 = buf[1], *s0 = buf[2], *s1 = buf[3], *t;
	int d0 = P, d1, dt;

	r0[P] = 1; /* x^p - x - 1 */
	r0[1] = n - 1;
	r0[0] = n - 1;
	for (int i = 0; i < P; i++) {
		r1[i] = mod_n(a[i], n);
	}
	s1[0] = 1; /* invariant: s_i a = r_i modulo x^p - x - 1 */
	d1 = degree(r1, P);
	while (d1 > 0) {
		while (d0 >= d1) {
			d0 = eliminate(r0, d0, r1, d1, s0, s1, n);
		}
		t = r0, r0 = r1, r1 = t;
		t = s0, s0 = s1, s1 = t;
		dt = d0, d0 = d1, d1 = dt;
	}
	if (d1 < 0) {
		return -1; /* gcd r0 has positive degree */
	}
	int32_t c = inv_n(r1[0], n);
	for (int i = 0; i < P; i++) {
		out[i] = mod_n((int64_t)s1[i] * c, n);
	}
	return 0;
}

/* ---- KeyGen and Decap ---- */

static int8_t centered3(int32_t x)
{
	return (int8_t)(x == 2 ? -1 : x);
}

/* Spec Small_random: ((word mod 2^30) * 3) >> 30, minus 1. */
static void small_random(int8_t g[P], struct ref_rng *rng)
{
	uint8_t b[4 * P];
	uint32_t w[P];

	ref_rng_words(rng, b);
	words_of(w, b);
	for (int i = 0; i < P; i++) {
		g[i] = (int8_t)((((w[i] & 0x3fffffff) * 3) >> 30) - 1);
	}
}

static void short_random(int8_t f[P], struct ref_rng *rng)
{
	uint8_t b[4 * P];
	uint32_t w[P];

	ref_rng_words(rng, b);
	words_of(w, b);
	sntrup761_short_fromlist(f, w);
}

void ref_keygen(uint8_t pk[SNTRUP761_RQ_BYTES], uint8_t sk[REF_SNTRUP761_SK_SIZE],
		struct ref_rng *rng)
{
	int8_t g[P], f[P], ginv[P];
	int32_t a[P], inv[P];
	int16_t finv[P], h[P];

	for (;;) { /* g invertible in R/3 */
		small_random(g, rng);
		for (int i = 0; i < P; i++) {
			a[i] = g[i];
		}
		if (ref_poly_inv(inv, a, 3) == 0) {
			break;
		}
	}
	for (int i = 0; i < P; i++) {
		ginv[i] = centered3(inv[i]);
	}
	short_random(f, rng);
	for (int i = 0; i < P; i++) {
		a[i] = 3 * f[i];
	}
	if (ref_poly_inv(inv, a, Q) != 0) { /* R/q is a field: never */
		abort();
	}
	for (int i = 0; i < P; i++) {
		finv[i] = (int16_t)(inv[i] > Q12 ? inv[i] - Q : inv[i]);
	}
	sntrup761_rq_mult_small(h, finv, g); /* h = g / (3f) */
	sntrup761_rq_encode(pk, h);
	sntrup761_small_encode(sk, f);
	sntrup761_small_encode(sk + 191, ginv);
	memcpy(sk + 382, pk, SNTRUP761_RQ_BYTES);
	ref_rng_bytes(rng, sk + 382 + SNTRUP761_RQ_BYTES, 191);
	if (sntrup761_hash_prefix(sk + 382 + SNTRUP761_RQ_BYTES + 191, 4, pk, SNTRUP761_RQ_BYTES)) {
		abort();
	}
}

/* e * v in R/3, coefficients -1..1. */
static void r3_mult(int8_t out[P], const int8_t e[P], const int8_t v[P])
{
	int32_t fg[2 * P - 1] = {0};

	for (int i = 0; i < P; i++) {
		for (int j = 0; j < P; j++) {
			fg[i + j] += e[i] * v[j];
		}
	}
	for (int i = 2 * P - 2; i >= P; i--) {
		fg[i - P] += fg[i];
		fg[i - P + 1] += fg[i];
	}
	for (int i = 0; i < P; i++) {
		out[i] = centered3(mod_n(fg[i], 3));
	}
}

/* Spec Decrypt: e = 3 f c reduced into R/3, r = e / g; a weight other than w gives the fixed
 * vector (1, ..., 1, 0, ..., 0). */
static void decrypt(int8_t r[P], const uint8_t *ct, const uint8_t *sk)
{
	int8_t f[P], v[P], e[P];
	int16_t c[P], cf[P];
	int weight = 0;

	sntrup761_small_decode(f, sk);
	sntrup761_small_decode(v, sk + 191);
	sntrup761_rounded_decode(c, ct);
	sntrup761_rq_mult_small(cf, c, f);
	for (int i = 0; i < P; i++) {
		e[i] = sntrup761_f3_freeze(sntrup761_fq_freeze(3 * cf[i]));
	}
	r3_mult(r, e, v);
	for (int i = 0; i < P; i++) {
		weight += r[i] != 0;
	}
	if (weight != SNTRUP761_W) {
		for (int i = 0; i < P; i++) {
			r[i] = i < SNTRUP761_W;
		}
	}
}

void ref_decaps(uint8_t ss[32], const uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE],
		const uint8_t sk[REF_SNTRUP761_SK_SIZE])
{
	const uint8_t *pk = sk + 382, *rho = pk + SNTRUP761_RQ_BYTES;
	uint8_t cnew[SNTRUP761_CIPHERTEXT_SIZE], r_enc[191];
	int8_t r[P];
	uint8_t b = 1;

	decrypt(r, ct, sk);
	if (sntrup761_hide(cnew, r_enc, r, pk) != 0) {
		abort();
	}
	if (memcmp(cnew, ct, sizeof(cnew)) != 0) {
		memcpy(r_enc, rho, sizeof(r_enc));
		b = 0;
	}
	if (sntrup761_hash_session(ss, b, r_enc, ct) != 0) {
		abort();
	}
}
