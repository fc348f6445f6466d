/* ML-KEM-768 encapsulation from NIST FIPS 203 (August 2024), on libcrypto's SHA-3.
 *
 * The path: mlkem768_encaps_derand = ML-KEM.Encaps_internal (Algorithm 17) → K-PKE.Encrypt
 * (Algorithm 14), built from SampleNTT (Alg 7), SamplePolyCBD_2 (Alg 8), NTT and NTT^-1
 * (Alg 9, 10), MultiplyNTTs / BaseCaseMultiply (Alg 11, 12), ByteEncode / ByteDecode
 * (Alg 5, 6) and Compress / Decompress (§4.2.1). Hash functions (§4.1): H = SHA3-256,
 * G = SHA3-512, XOF = SHAKE128, PRF_eta(s, b) = SHAKE256(s || b, 64 eta).
 *
 * Constant time where secrets flow (m, r, K, y, e1, e2, u, v): coefficients are uint16 in
 * [0, q); reduction is Barrett (multiply and shift) plus a masked conditional subtraction;
 * CBD sampling and message decoding use bit masks; Compress divides by q with a
 * multiply-and-shift (no `/` or `%` on secret data, the KyberSlash lesson). Table indices
 * and branches depend only on loop counters and on the public key. SampleNTT's rejection
 * sampling branches on XOF output of rho, which is public. Secret intermediates are wiped
 * with OPENSSL_cleanse before returning. */
#include "mlkem768.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#define MLKEM_N	   256
#define MLKEM_Q	   3329
#define MLKEM_K	   3			     /* ML-KEM-768 */
#define MLKEM_ETA  2			     /* eta1 = eta2 = 2 for ML-KEM-768 */
#define MLKEM_DU   10			     /* compression of u */
#define MLKEM_DV   4			     /* compression of v */
#define POLY_BYTES 384			     /* ByteEncode12 of one polynomial */
#define C1_BYTES   (32 * MLKEM_DU * MLKEM_K) /* 960 */
#define C2_BYTES   (32 * MLKEM_DV)	     /* 128 */
#define RHO_OFF	   (POLY_BYTES * MLKEM_K)    /* 1152: rho follows t_hat in ek */

/* SampleNTT reads XOF output in one EVP_DigestFinalXOF call: OpenSSL 3.0 cannot squeeze
 * twice from one context (a second FinalXOF returns wrong bytes) and has no
 * EVP_DigestSqueeze. 3 SHAKE128 blocks hold 336 candidates for 256 coefficients (each is
 * accepted with probability 3329/4096), enough about 99% of the time; when they are not,
 * the whole output is computed again, twice as long, up to XOF_MAX. */
#define XOF_BLOCK 168
#define XOF_FIRST (3 * XOF_BLOCK)
#define XOF_MAX	  (48 * XOF_BLOCK)

struct poly {
	uint16_t c[MLKEM_N];
};

/* The four digests of §4.1, fetched once per call, and one context for all of them. */
struct mlkem_md {
	EVP_MD_CTX *ctx;
	EVP_MD *sha3_256, *sha3_512, *shake128, *shake256;
};

/* zetas[i] = 17^BitRev7(i) mod q: FIPS 203 Appendix A, the table NTT and NTT^-1 use. */
static const uint16_t zetas[128] = {
	1,    1729, 2580, 3289, 2642, 630,  1897, 848,	1062, 1919, 193,  797,	2786, 3260, 569,
	1746, 296,  2447, 1339, 1476, 3046, 56,	  2240, 1333, 1426, 2094, 535,	2882, 2393, 2879,
	1974, 821,  289,  331,	3253, 1756, 1197, 2304, 2277, 2055, 650,  1977, 2513, 632,  2865,
	33,   1320, 1915, 2319, 1435, 807,  452,  1438, 2868, 1534, 2402, 2647, 2617, 1481, 648,
	2474, 3110, 1227, 910,	17,   2761, 583,  2649, 1637, 723,  2288, 1100, 1409, 2662, 3281,
	233,  756,  2156, 3015, 3050, 1703, 1651, 2789, 1789, 1847, 952,  1461, 2687, 939,  2308,
	2437, 2388, 733,  2337, 268,  641,  1584, 2298, 2037, 3220, 375,  2549, 2090, 1645, 1063,
	319,  2773, 757,  2099, 561,  2466, 2594, 2804, 1092, 403,  1026, 1143, 2150, 2775, 886,
	1722, 1212, 1874, 1029, 2110, 2935, 885,  2154,
};

/* gammas[i] = 17^(2 BitRev7(i) + 1) mod q: FIPS 203 Appendix A, for BaseCaseMultiply. */
static const uint16_t gammas[128] = {
	17,   3312, 2761, 568,	583,  2746, 2649, 680,	1637, 1692, 723,  2606, 2288, 1041, 1100,
	2229, 1409, 1920, 2662, 667,  3281, 48,	  233,	3096, 756,  2573, 2156, 1173, 3015, 314,
	3050, 279,  1703, 1626, 1651, 1678, 2789, 540,	1789, 1540, 1847, 1482, 952,  2377, 1461,
	1868, 2687, 642,  939,	2390, 2308, 1021, 2437, 892,  2388, 941,  733,	2596, 2337, 992,
	268,  3061, 641,  2688, 1584, 1745, 2298, 1031, 2037, 1292, 3220, 109,	375,  2954, 2549,
	780,  2090, 1239, 1645, 1684, 1063, 2266, 319,	3010, 2773, 556,  757,	2572, 2099, 1230,
	561,  2768, 2466, 863,	2594, 735,  2804, 525,	1092, 2237, 403,  2926, 1026, 2303, 1143,
	2186, 2150, 1179, 2775, 554,  886,  2443, 1722, 1607, 1212, 2117, 1874, 1455, 1029, 2300,
	2110, 1219, 2935, 394,	885,  2444, 2154, 1175,
};

/* ---- arithmetic mod q, all without branches ---- */

/* x - q when x >= q, else x, for x < 2q: the borrow's top bit becomes the mask. */
static uint16_t fq_csub(uint32_t x)
{
	uint32_t t = x - MLKEM_Q;

	t += MLKEM_Q & (0u - (t >> 31));
	return (uint16_t)t;
}

/* x mod q for x < 2 q^2 (a product of two reduced values, or such a sum). Barrett with
 * 5039 = floor(2^24 / q): the estimated quotient is low by at most one. */
static uint16_t fq_reduce(uint32_t x)
{
	uint32_t quot = (uint32_t)(((uint64_t)x * 5039) >> 24);

	return fq_csub(x - quot * MLKEM_Q);
}

static uint16_t fq_add(uint16_t a, uint16_t b)
{
	return fq_csub((uint32_t)a + b);
}

static uint16_t fq_sub(uint16_t a, uint16_t b)
{
	return fq_csub((uint32_t)a + MLKEM_Q - b);
}

static uint16_t fq_mul(uint16_t a, uint16_t b)
{
	return fq_reduce((uint32_t)a * b);
}

/* Compress_d(x) = round(2^d x / q) mod 2^d (§4.2.1, eq. 4.7) for x in [0, q), d = 4 or 10.
 * round(2^d x / q) = floor((2^d x + 1664) / q) because 2^d x / q is never a half integer
 * (q is odd). The division is a multiply and shift by ceil(2^s / q), with s the smallest
 * shift exact for every numerator this d can make: s = 20 (315) for d = 4, s = 29
 * (161271) for d = 10. tests/unit/test_mlkem.c checks both against exact division for
 * every x in [0, q). */
static uint16_t fq_compress(uint16_t x, unsigned d)
{
	uint64_t n = ((uint64_t)x << d) + MLKEM_Q / 2;
	uint64_t quot;

	if (d == 4) { /* d is a compile-time parameter, not data */
		quot = (n * 315) >> 20;
	} else {
		quot = (n * 161271) >> 29;
	}
	return (uint16_t)(quot & ((1u << d) - 1));
}

/* ---- NTT (Algorithms 9, 10, 11, 12) ---- */

/* Algorithm 9, in place: coefficients in [0, q) in and out. */
static void poly_ntt(struct poly *f)
{
	unsigned i = 1;

	for (unsigned len = 128; len >= 2; len /= 2) {
		for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
			uint16_t zeta = zetas[i++];
			for (unsigned j = start; j < start + len; j++) {
				uint16_t t = fq_mul(zeta, f->c[j + len]);
				f->c[j + len] = fq_sub(f->c[j], t);
				f->c[j] = fq_add(f->c[j], t);
			}
		}
	}
}

/* Algorithm 10, in place, including the final multiplication by 128^-1 = 3303. */
static void poly_invntt(struct poly *f)
{
	unsigned i = 127;

	for (unsigned len = 2; len <= 128; len *= 2) {
		for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
			uint16_t zeta = zetas[i--];
			for (unsigned j = start; j < start + len; j++) {
				uint16_t t = f->c[j];
				f->c[j] = fq_add(t, f->c[j + len]);
				f->c[j + len] = fq_mul(zeta, fq_sub(f->c[j + len], t));
			}
		}
	}
	for (unsigned j = 0; j < MLKEM_N; j++) {
		f->c[j] = fq_mul(f->c[j], 3303);
	}
}

/* h += f * g in the NTT domain: MultiplyNTTs (Algorithm 11), BaseCaseMultiply (Algorithm
 * 12) on each of the 128 degree-one pairs with gamma = gammas[i]. */
static void poly_mul_acc(struct poly *h, const struct poly *f, const struct poly *g)
{
	for (unsigned i = 0; i < MLKEM_N / 2; i++) {
		uint16_t a0 = f->c[2 * i], a1 = f->c[2 * i + 1];
		uint16_t b0 = g->c[2 * i], b1 = g->c[2 * i + 1];
		uint32_t c0 = (uint32_t)a0 * b0 + (uint32_t)fq_mul(a1, b1) * gammas[i];
		uint32_t c1 = (uint32_t)a0 * b1 + (uint32_t)a1 * b0;

		h->c[2 * i] = fq_add(h->c[2 * i], fq_reduce(c0));
		h->c[2 * i + 1] = fq_add(h->c[2 * i + 1], fq_reduce(c1));
	}
}

static void poly_add(struct poly *f, const struct poly *g)
{
	for (unsigned j = 0; j < MLKEM_N; j++) {
		f->c[j] = fq_add(f->c[j], g->c[j]);
	}
}

/* ---- encodings (Algorithms 5, 6) ---- */

/* ByteEncode_d (Algorithm 5) of 256 values below 2^d, d <= 12: 32 d bytes, least
 * significant bit first. Loop bounds depend on d only. */
static void poly_encode(uint8_t *out, const struct poly *f, unsigned d)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	for (unsigned j = 0; j < MLKEM_N; j++) {
		acc |= (uint32_t)f->c[j] << bits;
		bits += d;
		while (bits >= 8) {
			*out++ = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
}

/* ByteDecode12 (Algorithm 6, d = 12) of 384 bytes, without the reduction mod q: returns
 * nonzero when a coefficient is q or more, which is the §7.2 modulus check (the encoding
 * would not round-trip). */
static unsigned poly_decode12(struct poly *f, const uint8_t *in)
{
	unsigned bad = 0;

	for (unsigned j = 0; j < MLKEM_N / 2; j++) {
		const uint8_t *b = in + 3 * j;
		uint16_t c0 = (uint16_t)(b[0] | ((b[1] & 0x0f) << 8));
		uint16_t c1 = (uint16_t)((b[1] >> 4) | (b[2] << 4));
		bad |= (c0 >= MLKEM_Q) | (c1 >= MLKEM_Q);
		f->c[2 * j] = c0;
		f->c[2 * j + 1] = c1;
	}
	return bad;
}

/* Decompress_1(ByteDecode_1(m)) (§4.2.1): bit 1 becomes round(q/2) = 1665, with a mask. */
static void poly_from_msg(struct poly *f, const uint8_t m[32])
{
	for (unsigned j = 0; j < MLKEM_N; j++) {
		uint16_t bit = (m[j / 8] >> (j % 8)) & 1;
		f->c[j] = (uint16_t)(0u - bit) & 1665;
	}
}

/* ---- hashing and sampling (§4.1, Algorithms 7, 8) ---- */

static void md_free(struct mlkem_md *h)
{
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->sha3_256);
	EVP_MD_free(h->sha3_512);
	EVP_MD_free(h->shake128);
	EVP_MD_free(h->shake256);
	memset(h, 0, sizeof(*h));
}

static int md_fetch(struct mlkem_md *h)
{
	memset(h, 0, sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	h->sha3_256 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
	h->sha3_512 = EVP_MD_fetch(NULL, "SHA3-512", NULL);
	h->shake128 = EVP_MD_fetch(NULL, "SHAKE128", NULL);
	h->shake256 = EVP_MD_fetch(NULL, "SHAKE256", NULL);
	if (h->ctx == NULL || h->sha3_256 == NULL || h->sha3_512 == NULL || h->shake128 == NULL ||
	    h->shake256 == NULL) {
		md_free(h);
		return MLKEM768_ERR_CRYPTO;
	}
	return 0;
}

/* out = md(a || b), out_len bytes: a fixed digest (out_len its size) or an XOF read with
 * one EVP_DigestFinalXOF. b may be NULL. Returns 0 or MLKEM768_ERR_CRYPTO. */
static int md_hash(struct mlkem_md *h, const EVP_MD *md, const uint8_t *a, size_t a_len,
		   const uint8_t *b, size_t b_len, uint8_t *out, size_t out_len)
{
	int ok = EVP_DigestInit_ex(h->ctx, md, NULL) == 1 &&
		 EVP_DigestUpdate(h->ctx, a, a_len) == 1 &&
		 (b == NULL || EVP_DigestUpdate(h->ctx, b, b_len) == 1);

	if (ok && (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF)) {
		ok = EVP_DigestFinalXOF(h->ctx, out, out_len) == 1;
	} else if (ok) {
		ok = (size_t)EVP_MD_get_size(md) == out_len &&
		     EVP_DigestFinal_ex(h->ctx, out, NULL) == 1;
	}
	return ok ? 0 : MLKEM768_ERR_CRYPTO;
}

/* Rejection sampling of Algorithm 7 over buf: returns the number of coefficients taken
 * (256 when buf was long enough). Branches on public data only (XOF output of rho). */
static unsigned sample_ntt_take(struct poly *a, const uint8_t *buf, size_t len)
{
	unsigned j = 0;

	for (size_t i = 0; i + 3 <= len && j < MLKEM_N; i += 3) {
		uint16_t d1 = (uint16_t)(buf[i] | ((buf[i + 1] & 0x0f) << 8));
		uint16_t d2 = (uint16_t)((buf[i + 1] >> 4) | (buf[i + 2] << 4));
		if (d1 < MLKEM_Q) {
			a->c[j++] = d1;
		}
		if (d2 < MLKEM_Q && j < MLKEM_N) {
			a->c[j++] = d2;
		}
	}
	return j;
}

/* SampleNTT (Algorithm 7): a = A_hat[i][j] from XOF(rho || j || i), as K-PKE.Encrypt's
 * step 6 (Algorithm 14) orders the two index bytes. Returns 0 or MLKEM768_ERR_CRYPTO. */
static int sample_ntt(struct mlkem_md *h, struct poly *a, const uint8_t rho[32], uint8_t i,
		      uint8_t j)
{
	uint8_t idx[2] = {j, i};
	uint8_t first[XOF_FIRST];
	uint8_t *big;
	int ret;

	ret = md_hash(h, h->shake128, rho, 32, idx, 2, first, sizeof(first));
	if (ret != 0 || sample_ntt_take(a, first, sizeof(first)) == MLKEM_N) {
		return ret;
	}
	/* Rare: the output again, longer, in one call (see XOF_FIRST). */
	big = OPENSSL_malloc(XOF_MAX);
	ret = big == NULL ? MLKEM768_ERR_CRYPTO : MLKEM768_ERR_KEY;
	for (size_t len = 2 * XOF_FIRST; big != NULL && len <= XOF_MAX; len *= 2) {
		ret = md_hash(h, h->shake128, rho, 32, idx, 2, big, len);
		if (ret != 0 || sample_ntt_take(a, big, len) == MLKEM_N) {
			break;
		}
		ret = MLKEM768_ERR_KEY; /* not reached with any real rho (2^-1000 and less) */
	}
	OPENSSL_free(big);
	return ret;
}

/* SamplePolyCBD_2 (Algorithm 8) of PRF_2(r, n) = SHAKE256(r || n, 128): each coefficient
 * is (b0 + b1) - (b2 + b3) mod q for four consecutive bits, computed with masks. */
static int sample_cbd2(struct mlkem_md *h, struct poly *f, const uint8_t r[32], uint8_t n)
{
	uint8_t buf[64 * MLKEM_ETA];
	int ret = md_hash(h, h->shake256, r, 32, &n, 1, buf, sizeof(buf));

	for (unsigned w = 0; ret == 0 && w < sizeof(buf) / 4; w++) {
		uint32_t t = (uint32_t)buf[4 * w] | (uint32_t)buf[4 * w + 1] << 8 |
			     (uint32_t)buf[4 * w + 2] << 16 | (uint32_t)buf[4 * w + 3] << 24;
		uint32_t d = (t & 0x55555555) + ((t >> 1) & 0x55555555); /* pair sums */
		for (unsigned k = 0; k < 8; k++) {
			uint32_t x = (d >> (4 * k)) & 3, y = (d >> (4 * k + 2)) & 3;
			f->c[8 * w + k] = fq_csub(x + MLKEM_Q - y);
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

/* ---- K-PKE.Encrypt and ML-KEM.Encaps_internal ---- */

/* Secret working state of one K-PKE.Encrypt, wiped as a whole. */
struct kpke {
	struct poly y[MLKEM_K]; /* y, then y_hat */
	struct poly u[MLKEM_K]; /* A_hat^T y_hat, then u */
	struct poly v;		/* t_hat^T y_hat, then v */
	struct poly e;		/* e1[i], e2, then mu */
	struct poly a;		/* one A_hat[i][j] or one t_hat[i] (public) */
};

/* u[i] = NTT^-1(sum_j A_hat[j][i] y_hat[j]) + e1[i] (Algorithm 14, steps 4-8, 19), one
 * matrix entry at a time so A_hat is never stored whole. */
static int kpke_u(struct mlkem_md *h, struct kpke *s, const uint8_t rho[32], const uint8_t r[32])
{
	int ret = 0;

	memset(s->u, 0, sizeof(s->u));
	for (uint8_t i = 0; i < MLKEM_K && ret == 0; i++) {
		for (uint8_t j = 0; j < MLKEM_K && ret == 0; j++) {
			ret = sample_ntt(h, &s->a, rho, j, i); /* A_hat[j][i]: the transpose */
			if (ret == 0) {
				poly_mul_acc(&s->u[i], &s->a, &s->y[j]);
			}
		}
		if (ret == 0) {
			ret = sample_cbd2(h, &s->e, r, (uint8_t)(MLKEM_K + i)); /* e1[i], N = 3+i */
			poly_invntt(&s->u[i]);
			poly_add(&s->u[i], &s->e);
		}
	}
	return ret;
}

/* K-PKE.Encrypt(ek, m, r) (Algorithm 14) into ct (1088 bytes). ek has passed the modulus
 * check. Returns 0 or MLKEM768_ERR_CRYPTO / MLKEM768_ERR_KEY (SampleNTT). */
static int kpke_encrypt(struct mlkem_md *h, uint8_t *ct, const uint8_t *ek, const uint8_t m[32],
			const uint8_t r[32])
{
	struct kpke s;
	int ret = 0;

	for (uint8_t i = 0; i < MLKEM_K && ret == 0; i++) {
		ret = sample_cbd2(h, &s.y[i], r, i); /* y[i], N = i (steps 9-12) */
		if (ret == 0) {
			poly_ntt(&s.y[i]); /* step 18 */
		}
	}
	if (ret == 0) {
		ret = kpke_u(h, &s, ek + RHO_OFF, r);
	}
	if (ret == 0) {
		ret = sample_cbd2(h, &s.e, r, 2 * MLKEM_K); /* e2, N = 6 (step 17) */
	}
	if (ret == 0) {
		memset(&s.v, 0, sizeof(s.v)); /* v = NTT^-1(t_hat^T y_hat) + e2 + mu (step 21) */
		for (unsigned i = 0; i < MLKEM_K; i++) {
			poly_decode12(&s.a, ek + POLY_BYTES * i); /* t_hat[i], checked before */
			poly_mul_acc(&s.v, &s.a, &s.y[i]);
		}
		poly_invntt(&s.v);
		poly_add(&s.v, &s.e);
		poly_from_msg(&s.e, m);
		poly_add(&s.v, &s.e);
		for (unsigned i = 0; i < MLKEM_K; i++) { /* c1 = ByteEncode10(Compress10(u)) */
			for (unsigned j = 0; j < MLKEM_N; j++) {
				s.u[i].c[j] = fq_compress(s.u[i].c[j], MLKEM_DU);
			}
			poly_encode(ct + 32 * MLKEM_DU * i, &s.u[i], MLKEM_DU);
		}
		for (unsigned j = 0; j < MLKEM_N; j++) { /* c2 = ByteEncode4(Compress4(v)) */
			s.v.c[j] = fq_compress(s.v.c[j], MLKEM_DV);
		}
		poly_encode(ct + C1_BYTES, &s.v, MLKEM_DV);
	}
	OPENSSL_cleanse(&s, sizeof(s));
	return ret;
}

int mlkem768_check_ek(const uint8_t *ek, size_t ek_len)
{
	struct poly t;
	unsigned bad = 0;

	if (ek == NULL || ek_len != MLKEM768_EK_BYTES) {
		return MLKEM768_ERR_KEY;
	}
	for (unsigned i = 0; i < MLKEM_K; i++) {
		bad |= poly_decode12(&t, ek + POLY_BYTES * i);
	}
	return bad ? MLKEM768_ERR_KEY : MLKEM768_OK;
}

/* Algorithm 17: (K, r) = G(m || H(ek)), c = K-PKE.Encrypt(ek, m, r), K is the secret. */
int mlkem768_encaps_derand(uint8_t ct[MLKEM768_CT_BYTES], uint8_t ss[MLKEM768_SS_BYTES],
			   const uint8_t *ek, size_t ek_len, const uint8_t m[MLKEM768_M_BYTES])
{
	struct mlkem_md h;
	uint8_t hek[32], kr[64]; /* H(ek); K || r */
	int ret = mlkem768_check_ek(ek, ek_len);

	if (ret == 0) {
		ret = md_fetch(&h);
	}
	if (ret != 0) {
		goto out;
	}
	ret = md_hash(&h, h.sha3_256, ek, ek_len, NULL, 0, hek, sizeof(hek));
	if (ret == 0) {
		ret = md_hash(&h, h.sha3_512, m, 32, hek, sizeof(hek), kr, sizeof(kr));
	}
	if (ret == 0) {
		ret = kpke_encrypt(&h, ct, ek, m, kr + 32);
	}
	if (ret == 0) {
		memcpy(ss, kr, MLKEM768_SS_BYTES);
	}
	OPENSSL_cleanse(kr, sizeof(kr));
	md_free(&h);
out:
	if (ret != 0) {
		OPENSSL_cleanse(ct, MLKEM768_CT_BYTES);
		OPENSSL_cleanse(ss, MLKEM768_SS_BYTES);
	}
	return ret;
}

#if OPENSSL_VERSION_NUMBER >= 0x30500000L
/* libcrypto's ML-KEM-768 (OpenSSL 3.5 and later): the key from its raw encoding, one
 * EVP_PKEY_encapsulate. Not built or tested on Debian 12 (OpenSSL 3.0). */
static int encaps_libcrypto(uint8_t *ct, uint8_t *ss, const uint8_t *ek)
{
	EVP_PKEY *pk =
		EVP_PKEY_new_raw_public_key_ex(NULL, "ML-KEM-768", NULL, ek, MLKEM768_EK_BYTES);
	EVP_PKEY_CTX *ctx = pk == NULL ? NULL : EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	size_t ct_len = MLKEM768_CT_BYTES, ss_len = MLKEM768_SS_BYTES;
	int ok = ctx != NULL && EVP_PKEY_encapsulate_init(ctx, NULL) == 1 &&
		 EVP_PKEY_encapsulate(ctx, ct, &ct_len, ss, &ss_len) == 1 &&
		 ct_len == MLKEM768_CT_BYTES && ss_len == MLKEM768_SS_BYTES;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok ? 0 : MLKEM768_ERR_CRYPTO;
}
#endif

int mlkem768_encaps(uint8_t ct[MLKEM768_CT_BYTES], uint8_t ss[MLKEM768_SS_BYTES], const uint8_t *ek,
		    size_t ek_len)
{
	uint8_t m[MLKEM768_M_BYTES];
	int ret = mlkem768_check_ek(ek, ek_len);

	if (ret != 0) {
		goto out;
	}
#if OPENSSL_VERSION_NUMBER >= 0x30500000L
	(void)m;
	ret = encaps_libcrypto(ct, ss, ek);
#else
	ret = RAND_priv_bytes(m, sizeof(m)) == 1 ? 0 : MLKEM768_ERR_CRYPTO;
	if (ret == 0) {
		ret = mlkem768_encaps_derand(ct, ss, ek, ek_len, m);
	}
	OPENSSL_cleanse(m, sizeof(m));
#endif
out:
	if (ret != 0) {
		OPENSSL_cleanse(ct, MLKEM768_CT_BYTES);
		OPENSSL_cleanse(ss, MLKEM768_SS_BYTES);
	}
	return ret;
}
