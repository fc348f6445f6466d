/* TEST CODE ONLY: ML-KEM-768 key generation and decapsulation (FIPS 203 Algorithms 16, 13,
 * 18, 15), for tests/unit/test_mlkem.c, which #includes this file. The server never runs
 * it: src/ssh/mlkem768.c only encapsulates. Written plainly from the spec for clarity, not
 * speed: int32 arithmetic with `%`, zetas computed at start, no constant-time care, no
 * wiping. It shares no code with src/ssh/mlkem768.c except that decapsulation re-encrypts
 * with mlkem768_encaps_derand (Algorithm 18 step 8 is K-PKE.Encrypt with the same G
 * output that Encaps_internal computes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ssh/mlkem768.h"

#define REF_Q	3329
#define REF_N	256
#define REF_K	3
#define REF_DK	(384 * REF_K + MLKEM768_EK_BYTES + 64) /* dk_pke || ek || H(ek) || z */
#define REF_ETA 2

static int32_t ref_zetas[128], ref_gammas[128];

static unsigned ref_bitrev7(unsigned n)
{
	unsigned r = 0;

	for (unsigned b = 0; b < 7; b++) {
		r |= ((n >> b) & 1) << (6 - b);
	}
	return r;
}

static int32_t ref_mod(int64_t x)
{
	int64_t r = x % REF_Q;
	return (int32_t)(r < 0 ? r + REF_Q : r);
}

static int32_t ref_pow(int32_t b, unsigned e)
{
	int64_t r = 1;

	while (e--) {
		r = r * b % REF_Q;
	}
	return (int32_t)r;
}

static void ref_init(void)
{
	for (unsigned i = 0; i < 128; i++) {
		ref_zetas[i] = ref_pow(17, ref_bitrev7(i));
		ref_gammas[i] = ref_pow(17, 2 * ref_bitrev7(i) + 1);
	}
}

static void ref_digest(const char *name, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
		       uint8_t *out, size_t outn)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, md, NULL);
	EVP_DigestUpdate(c, a, an);
	if (b != NULL) {
		EVP_DigestUpdate(c, b, bn);
	}
	if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) {
		EVP_DigestFinalXOF(c, out, outn);
	} else {
		EVP_DigestFinal_ex(c, out, NULL);
	}
	EVP_MD_CTX_free(c);
	EVP_MD_free(md);
}

static void ref_ntt(int32_t f[REF_N])
{
	unsigned i = 1;

	for (unsigned len = 128; len >= 2; len /= 2) {
		for (unsigned st = 0; st < REF_N; st += 2 * len) {
			int64_t z = ref_zetas[i++];
			for (unsigned j = st; j < st + len; j++) {
				int32_t t = ref_mod(z * f[j + len]);
				f[j + len] = ref_mod(f[j] - t);
				f[j] = ref_mod(f[j] + t);
			}
		}
	}
}

static void ref_invntt(int32_t f[REF_N])
{
	unsigned i = 127;

	for (unsigned len = 2; len <= 128; len *= 2) {
		for (unsigned st = 0; st < REF_N; st += 2 * len) {
			int64_t z = ref_zetas[i--];
			for (unsigned j = st; j < st + len; j++) {
				int32_t t = f[j];
				f[j] = ref_mod(t + f[j + len]);
				f[j + len] = ref_mod(z * (f[j + len] - t));
			}
		}
	}
	for (unsigned j = 0; j < REF_N; j++) {
		f[j] = ref_mod((int64_t)f[j] * 3303);
	}
}

/* h += f * g (MultiplyNTTs, gamma = zeta^(2 BitRev7(i) + 1)). */
static void ref_mul_acc(int32_t h[REF_N], const int32_t f[REF_N], const int32_t g[REF_N])
{
	for (unsigned i = 0; i < 128; i++) {
		int64_t gamma = ref_gammas[i];
		int64_t a0 = f[2 * i], a1 = f[2 * i + 1], b0 = g[2 * i], b1 = g[2 * i + 1];
		h[2 * i] = ref_mod(h[2 * i] + a0 * b0 + ref_mod(a1 * b1) * gamma);
		h[2 * i + 1] = ref_mod(h[2 * i + 1] + a0 * b1 + a1 * b0);
	}
}

static void ref_sample_ntt(int32_t a[REF_N], const uint8_t rho[32], uint8_t j, uint8_t i)
{
	uint8_t idx[2] = {j, i}, buf[168 * 6]; /* 672 candidates: enough but for ~2^-100 */
	unsigned n = 0;

	ref_digest("SHAKE128", rho, 32, idx, 2, buf, sizeof(buf));
	for (size_t p = 0; n < REF_N; p += 3) {
		if (p + 3 > sizeof(buf)) {
			abort();
		}
		int32_t d1 = buf[p] + 256 * (buf[p + 1] % 16);
		int32_t d2 = buf[p + 1] / 16 + 16 * buf[p + 2];
		if (d1 < REF_Q) {
			a[n++] = d1;
		}
		if (d2 < REF_Q && n < REF_N) {
			a[n++] = d2;
		}
	}
}

static void ref_cbd(int32_t f[REF_N], const uint8_t s[32], uint8_t b)
{
	uint8_t buf[64 * REF_ETA];

	ref_digest("SHAKE256", s, 32, &b, 1, buf, sizeof(buf));
	for (unsigned i = 0; i < REF_N; i++) {
		int32_t x = 0, y = 0;
		for (unsigned j = 0; j < REF_ETA; j++) {
			unsigned bx = 2 * i * REF_ETA + j, by = bx + REF_ETA;
			x += (buf[bx / 8] >> (bx % 8)) & 1;
			y += (buf[by / 8] >> (by % 8)) & 1;
		}
		f[i] = ref_mod(x - y);
	}
}

static void ref_encode(uint8_t *out, const int32_t f[REF_N], unsigned d)
{
	memset(out, 0, 32 * d);
	for (unsigned i = 0; i < REF_N * d; i++) {
		out[i / 8] |= (uint8_t)(((f[i / d] >> (i % d)) & 1) << (i % 8));
	}
}

static void ref_decode(int32_t f[REF_N], const uint8_t *in, unsigned d)
{
	memset(f, 0, sizeof(int32_t) * REF_N);
	for (unsigned i = 0; i < REF_N * d; i++) {
		f[i / d] |= ((in[i / 8] >> (i % 8)) & 1) << (i % d);
	}
}

/* Decompress_d (§4.2.1): round(q y / 2^d), halves rounded up. */
static int32_t ref_decompress(int32_t y, unsigned d)
{
	return (int32_t)(((int64_t)REF_Q * y * 2 + (1 << d)) / (2 << d));
}

/* ML-KEM.KeyGen_internal(d, z) (Algorithm 16, with K-PKE.KeyGen, Algorithm 13). */
static void ref_keygen(uint8_t ek[MLKEM768_EK_BYTES], uint8_t dk[REF_DK], const uint8_t seed[64])
{
	uint8_t in[33], rs[64]; /* d || k; rho || sigma */
	int32_t s[REF_K][REF_N], e[REF_N], a[REF_N], t[REF_N];

	memcpy(in, seed, 32);
	in[32] = REF_K;
	ref_digest("SHA3-512", in, 33, NULL, 0, rs, 64);
	for (unsigned i = 0; i < REF_K; i++) {
		ref_cbd(s[i], rs + 32, (uint8_t)i);
		ref_ntt(s[i]);
		ref_encode(dk + 384 * i, s[i], 12);
	}
	for (unsigned i = 0; i < REF_K; i++) {
		ref_cbd(e, rs + 32, (uint8_t)(REF_K + i));
		ref_ntt(e);
		memcpy(t, e, sizeof(t));
		for (unsigned j = 0; j < REF_K; j++) {
			ref_sample_ntt(a, rs, (uint8_t)j, (uint8_t)i); /* A_hat[i][j] */
			ref_mul_acc(t, a, s[j]);
		}
		ref_encode(ek + 384 * i, t, 12);
	}
	memcpy(ek + 384 * REF_K, rs, 32);
	memcpy(dk + 384 * REF_K, ek, MLKEM768_EK_BYTES);
	ref_digest("SHA3-256", ek, MLKEM768_EK_BYTES, NULL, 0, dk + 384 * REF_K + MLKEM768_EK_BYTES,
		   32);
	memcpy(dk + REF_DK - 32, seed + 32, 32);
}

/* K-PKE.Decrypt (Algorithm 15). */
static void ref_decrypt(uint8_t m[32], const uint8_t *dk_pke, const uint8_t c[MLKEM768_CT_BYTES])
{
	int32_t u[REF_N], s[REF_N], w[REF_N] = {0}, v[REF_N];

	for (unsigned i = 0; i < REF_K; i++) {
		ref_decode(u, c + 320 * i, 10);
		for (unsigned j = 0; j < REF_N; j++) {
			u[j] = ref_decompress(u[j], 10);
		}
		ref_ntt(u);
		ref_decode(s, dk_pke + 384 * i, 12);
		ref_mul_acc(w, s, u);
	}
	ref_invntt(w);
	ref_decode(v, c + 960, 4);
	for (unsigned j = 0; j < REF_N; j++) {
		int32_t x = ref_mod(ref_decompress(v[j], 4) - w[j]);
		v[j] = (int32_t)(((int64_t)x * 2 * 2 + REF_Q) / (2 * REF_Q)) % 2; /* Compress_1 */
	}
	ref_encode(m, v, 1);
}

/* ML-KEM.Decaps_internal (Algorithm 18), implicit rejection included. */
static void ref_decaps(uint8_t k[32], const uint8_t dk[REF_DK], const uint8_t c[MLKEM768_CT_BYTES])
{
	const uint8_t *ek = dk + 384 * REF_K, *z = dk + REF_DK - 32;
	uint8_t m[32], c2[MLKEM768_CT_BYTES], k2[32];

	ref_decrypt(m, dk, c);
	if (mlkem768_encaps_derand(c2, k2, ek, MLKEM768_EK_BYTES, m) == 0 &&
	    memcmp(c, c2, sizeof(c2)) == 0) {
		memcpy(k, k2, 32);
	} else {
		ref_digest("SHAKE256", z, 32, c, MLKEM768_CT_BYTES, k, 32); /* J(z || c) */
	}
}
