/* sntrup761 arithmetic: reduction mod q and mod 3, multiplication in R/q, rounding, the
 * constant-time sort behind Short_fromlist, and the encodings of the specification
 * ("NTRU Prime: round 3", Streamlined NTRU Prime: Core, Encoding). See sntrup761_internal.h.
 *
 * Constant time: the secret values (the short vector r, h*r before it is sent) only meet
 * additions, multiplications, shifts and masks here. Reductions are multiplications by
 * precomputed reciprocals, never `/` or `%`; the sort is a fixed network of branch-free
 * compare-exchanges. Only the decoders divide, and they read public bytes. */
#include <openssl/crypto.h>

#include "sntrup761_internal.h"

#define P   SNTRUP761_P
#define Q   SNTRUP761_Q
#define Q12 SNTRUP761_Q12

/* ceil(2^45 / q): for u < 2^32, (u * QINV45) >> 45 == u / q, since QINV45 * q - 2^45 = 2884 and
 * u * 2884 < 2^45 (the usual round-up reciprocal bound). */
#define QINV45 7663770876ULL
/* ceil(2^33 / 3): (u * THIRD33) >> 33 == u / 3 for every uint32_t u. */
#define THIRD33 2863311531ULL

int16_t sntrup761_fq_freeze(int32_t x)
{
	/* Shift into 0 .. 2^27 by a multiple of q (4096 q > 2^24), so the reduction is unsigned. */
	uint32_t u = (uint32_t)(x + Q12 + Q * 4096);
	uint32_t quot = (uint32_t)(((uint64_t)u * QINV45) >> 45);

	return (int16_t)((int32_t)(u - quot * Q) - Q12);
}

int8_t sntrup761_f3_freeze(int16_t x)
{
	uint32_t u = (uint32_t)((int32_t)x + 1 + 3 * 32768); /* 1 .. 131072 */
	uint32_t quot = (uint32_t)(((uint64_t)u * THIRD33) >> 33);

	return (int8_t)((int32_t)(u - 3 * quot) - 1);
}

/* Puts the smaller of *a, *b into *a and the larger into *b, without a branch: the borrow of
 * the 64-bit difference y - x is 1 exactly when y < x. */
static void minmax_u32(uint32_t *a, uint32_t *b)
{
	uint32_t x = *a, y = *b;
	uint64_t d = (uint64_t)y - (uint64_t)x;
	uint32_t mask = (uint32_t)0 - (uint32_t)(d >> 63);
	uint32_t t = (x ^ y) & mask;

	*a = x ^ t;
	*b = y ^ t;
}

/* Knuth, TAOCP vol. 3, 5.2.2, Algorithm M (Batcher's merge exchange). Which pairs are compared
 * depends on n, i, p, q, r only: public. djbsort (used by the NTRU Prime software) is a faster
 * arrangement of the same network family. */
void sntrup761_sort_uint32(uint32_t *x, size_t n)
{
	size_t t = 0;

	if (n < 2) {
		return;
	}
	while (((size_t)1 << t) < n) {
		t++;
	}
	for (size_t p = (size_t)1 << (t - 1); p > 0; p >>= 1) {
		size_t q = (size_t)1 << (t - 1), r = 0, d = p;
		for (;;) {
			/* The i with (i & p) == r, in runs of p from r, 3p + r, ... (r is 0 or p).
			 */
			for (size_t base = r; base + d < n; base += 2 * p) {
				for (size_t i = base; i < base + p && i + d < n; i++) {
					minmax_u32(&x[i], &x[i + d]);
				}
			}
			if (q == p) {
				break;
			}
			d = q - p;
			q >>= 1;
			r = p;
		}
	}
}

/* Spec, Short_fromlist: the low two bits of the first w words become 0 or 2 (-> -1 or +1), of
 * the others 1 (-> 0); sorting by the high 30 bits shuffles them into a uniform position. */
void sntrup761_short_fromlist(int8_t out[P], const uint32_t in[P])
{
	uint32_t l[P];

	for (int i = 0; i < SNTRUP761_W; i++) {
		l[i] = in[i] & ~(uint32_t)1;
	}
	for (int i = SNTRUP761_W; i < P; i++) {
		l[i] = (in[i] & ~(uint32_t)3) | 1;
	}
	sntrup761_sort_uint32(l, P);
	for (int i = 0; i < P; i++) {
		out[i] = (int8_t)((int32_t)(l[i] & 3) - 1);
	}
	OPENSSL_cleanse(l, sizeof(l));
}

#define MULT_PAD 768 /* p rounded up to a multiple of 16, so the inner loop vectorises */

/* Schoolbook product in Z[x], then x^p = x + 1 folds the top half down, then one reduction per
 * coefficient. Bounds: each product sum is at most p * q12 = 1746495 in magnitude, and each low
 * coefficient receives at most two folded ones, so |fg[i]| < 3 * 1746495 < 2^24, what
 * sntrup761_fq_freeze accepts. f is copied into a zero-padded int32_t array: the inner loop
 * then has a fixed length the compiler turns into vector instructions. */
void sntrup761_rq_mult_small(int16_t h[P], const int16_t f[P], const int8_t g[P])
{
	int32_t fp[MULT_PAD] = {0}, fn[MULT_PAD] = {0};
	int32_t fg[P + MULT_PAD] = {0};

	for (int j = 0; j < P; j++) {
		fp[j] = f[j];
		fn[j] = -f[j];
	}
	for (int i = 0; i < P; i++) {
		/* g[i] is -1, 0 or 1: add f, nothing or -f, selected by masks, not multiplied
		 * (SSE2 has no 32-bit vector multiply). */
		int32_t plus = -(int32_t)((g[i] + 1) >> 1), minus = -(int32_t)((1 - g[i]) >> 1);
		int32_t *row = fg + i;
		for (int j = 0; j < MULT_PAD; j++) {
			row[j] += (fp[j] & plus) + (fn[j] & minus);
		}
	}
	for (int i = 2 * P - 2; i >= P; i--) {
		fg[i - P] += fg[i];
		fg[i - P + 1] += fg[i];
	}
	for (int i = 0; i < P; i++) {
		h[i] = sntrup761_fq_freeze(fg[i]);
	}
	OPENSSL_cleanse(fp, sizeof(fp));
	OPENSSL_cleanse(fn, sizeof(fn));
	OPENSSL_cleanse(fg, sizeof(fg));
}

/* Spec, Round: a - (a mod 3), with the remainder taken in -1..1. */
void sntrup761_round(int16_t out[P], const int16_t a[P])
{
	for (int i = 0; i < P; i++) {
		out[i] = (int16_t)(a[i] - sntrup761_f3_freeze(a[i]));
	}
}

/* Spec, Encoding, Encode(R, M): values 0 <= r[i] < m[i] < 16384, mixed-radix. Pairs are merged
 * into r0 + m0 r1 (radix m0 m1), low bytes written while the radix stays >= 2^14, and the
 * halved list is encoded the same way, until one value is left, written in full. Overwrites r
 * and m. Branches depend on m only (public); r only flows through arithmetic. */
static void encode(uint8_t *out, uint16_t *r, uint16_t *m, size_t len)
{
	while (len > 1) {
		size_t i;
		for (i = 0; i + 1 < len; i += 2) {
			uint32_t m0 = m[i];
			uint32_t v = r[i] + r[i + 1] * m0;
			uint32_t mm = m[i + 1] * m0;
			while (mm >= 16384) {
				*out++ = (uint8_t)v;
				v >>= 8;
				mm = (mm + 255) >> 8;
			}
			r[i / 2] = (uint16_t)v;
			m[i / 2] = (uint16_t)mm;
		}
		if (i < len) {
			r[i / 2] = r[i];
			m[i / 2] = m[i];
		}
		len = (len + 1) / 2;
	}
	uint32_t v = r[0];
	for (uint32_t mm = m[0]; mm > 1; mm = (mm + 255) >> 8) {
		*out++ = (uint8_t)v;
		v >>= 8;
	}
}

#define DECODE_LEVELS 12 /* 761 -> 381 -> 191 -> 96 -> 48 -> 24 -> 12 -> 6 -> 3 -> 2 -> 1 */

/* Bytes Encode wrote for the pair with radices m0, m1, and the merged radix (spec, Decode). */
static uint32_t pair_bytes(uint32_t m0, uint32_t m1, uint32_t *merged)
{
	uint32_t mm = m0 * m1;

	if (mm > 256 * 16383) {
		*merged = (((mm + 255) >> 8) + 255) >> 8;
		return 2;
	}
	if (mm >= 16384) {
		*merged = (mm + 255) >> 8;
		return 1;
	}
	*merged = mm;
	return 0;
}

/* One level back up: out[0 .. (n+1)/2) holds the merged values; spreads them in place into n
 * values below m[0..n), using the bytes s[0..end) that this level's pairs wrote. Walks the pairs
 * from the last so that no merged value is overwritten before it is read. Public data only. */
static void decode_level(uint16_t *out, const uint8_t *s, size_t end, const uint16_t *m, size_t n)
{
	if (n % 2) {
		out[n - 1] = out[(n - 1) / 2];
	}
	for (size_t j = n / 2; j-- > 0;) {
		uint32_t merged, nb = pair_bytes(m[2 * j], m[2 * j + 1], &merged);
		uint32_t v = 0;
		end -= nb;
		if (nb == 2) {
			v = s[end] + 256u * s[end + 1];
		} else if (nb == 1) {
			v = s[end];
		}
		v += (nb == 2 ? 65536u : nb == 1 ? 256u : 1u) * out[j];
		out[2 * j] = (uint16_t)(v % m[2 * j]);
		/* The reduction matters only for strings no encoder wrote. */
		out[2 * j + 1] = (uint16_t)((v / m[2 * j]) % m[2 * j + 1]);
	}
}

/* Spec, Decode(S, M) for len values that all have radix m0 (1 < m0 < 16384): the inverse of
 * encode, defined for every string. First down through the levels to learn every radix and
 * where each level's bytes start, then back up. Reads public bytes, so it divides freely. */
static void decode(uint16_t *out, const uint8_t *s, uint16_t m0, size_t len)
{
	uint16_t mlev[2 * P + DECODE_LEVELS]; /* every level's radices: 1525 for p = 761 */
	size_t start[DECODE_LEVELS], lens[DECODE_LEVELS], boff[DECODE_LEVELS];
	size_t k = 0, pos = 0;

	start[0] = 0;
	lens[0] = len;
	for (size_t i = 0; i < len; i++) {
		mlev[i] = m0;
	}
	while (lens[k] > 1) {
		const uint16_t *m = mlev + start[k];
		uint16_t *m2 = mlev + start[k] + lens[k];
		size_t n = lens[k], i;
		boff[k] = pos;
		for (i = 0; i + 1 < n; i += 2) {
			uint32_t merged;
			pos += pair_bytes(m[i], m[i + 1], &merged);
			m2[i / 2] = (uint16_t)merged;
		}
		if (i < n) {
			m2[i / 2] = m[i];
		}
		start[k + 1] = start[k] + n;
		lens[k + 1] = (n + 1) / 2;
		k++;
	}
	boff[k] = pos;
	uint16_t mtop = mlev[start[k]];
	if (mtop == 1) {
		out[0] = 0;
	} else if (mtop <= 256) {
		out[0] = (uint16_t)(s[pos] % mtop);
	} else {
		out[0] = (uint16_t)((s[pos] + 256u * s[pos + 1]) % mtop);
	}
	while (k-- > 0) {
		decode_level(out, s + boff[k], boff[k + 1] - boff[k], mlev + start[k], lens[k]);
	}
}

void sntrup761_rq_encode(uint8_t out[SNTRUP761_RQ_BYTES], const int16_t r[P])
{
	uint16_t rr[P], m[P];

	for (int i = 0; i < P; i++) {
		rr[i] = (uint16_t)(r[i] + Q12);
		m[i] = Q;
	}
	encode(out, rr, m, P);
}

void sntrup761_rq_decode(int16_t r[P], const uint8_t in[SNTRUP761_RQ_BYTES])
{
	uint16_t rr[P];

	decode(rr, in, Q, P);
	for (int i = 0; i < P; i++) {
		r[i] = (int16_t)(rr[i] - Q12);
	}
}

/* Spec, Rounded_encode: a multiple of 3 in -q12..q12 becomes (r + q12)/3 in 0..1530, radix
 * (q+2)/3 = 1531; (x * 10923) >> 15 is x/3 for the multiples of 3 up to 4590 (no division). */
void sntrup761_rounded_encode(uint8_t out[SNTRUP761_ROUNDED_BYTES], const int16_t r[P])
{
	uint16_t rr[P], m[P];

	for (int i = 0; i < P; i++) {
		rr[i] = (uint16_t)(((uint32_t)(r[i] + Q12) * 10923) >> 15);
		m[i] = (Q + 2) / 3;
	}
	encode(out, rr, m, P);
	OPENSSL_cleanse(rr, sizeof(rr));
}

void sntrup761_rounded_decode(int16_t r[P], const uint8_t in[SNTRUP761_ROUNDED_BYTES])
{
	uint16_t rr[P];

	decode(rr, in, (Q + 2) / 3, P);
	for (int i = 0; i < P; i++) {
		r[i] = (int16_t)(rr[i] * 3 - Q12);
	}
}

/* Spec, Small_encode: four coefficients a byte, each as c + 1 in two bits, low first; p = 761
 * leaves one coefficient for the last byte. */
void sntrup761_small_encode(uint8_t out[SNTRUP761_SMALL_BYTES], const int8_t f[P])
{
	for (int i = 0; i < P / 4; i++) {
		const int8_t *c = f + 4 * i;
		out[i] =
			(uint8_t)((c[0] + 1) | (c[1] + 1) << 2 | (c[2] + 1) << 4 | (c[3] + 1) << 6);
	}
	out[P / 4] = (uint8_t)(f[P - 1] + 1);
}

void sntrup761_small_decode(int8_t f[P], const uint8_t in[SNTRUP761_SMALL_BYTES])
{
	for (int i = 0; i < P / 4; i++) {
		for (int k = 0; k < 4; k++) {
			f[4 * i + k] = (int8_t)(((in[i] >> (2 * k)) & 3) - 1);
		}
	}
	f[P - 1] = (int8_t)((in[P / 4] & 3) - 1);
}
