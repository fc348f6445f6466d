/* What the two halves of sntrup761 share, and what its unit test checks piece by piece:
 * sntrup761_poly.c (arithmetic in R/q and R/3, the sort, the encodings) and sntrup761.c (the
 * KEM: hashing, Hide, Encap). Not for use outside src/ssh/sntrup761*.c and the tests; everyone
 * else uses sntrup761.h.
 *
 * Representation (spec, "Streamlined NTRU Prime Core"): an element of R/q is int16_t[761]
 * with coefficients in -2295..2295 (q12 = (q-1)/2); a small element (R/3, short vectors) is
 * int8_t[761] with coefficients in -1..1. Everything here is constant time in the coefficient
 * values unless it says "public". */
#ifndef ALKNET_SSH_SNTRUP761_INTERNAL_H
#define ALKNET_SSH_SNTRUP761_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sntrup761.h"

#define SNTRUP761_P		 761
#define SNTRUP761_Q		 4591
#define SNTRUP761_Q12		 2295 /* (q-1)/2 */
#define SNTRUP761_W		 286
#define SNTRUP761_RQ_BYTES	 1158 /* Rq_encode */
#define SNTRUP761_ROUNDED_BYTES	 1007 /* Rounded_encode */
#define SNTRUP761_SMALL_BYTES	 191  /* Small_encode: (p+3)/4 */
#define SNTRUP761_HASH_BYTES	 32
#define SNTRUP761_FREEZE_Q_LIMIT (1 << 24) /* sntrup761_fq_freeze wants |x| below this */

/* sntrup761_poly.c */

/* x mod q as -q12..q12, for |x| < 2^24, by multiplying with a 2^45 reciprocal of q. */
int16_t sntrup761_fq_freeze(int32_t x);
/* x mod 3 as -1..1, for any int16_t x. */
int8_t sntrup761_f3_freeze(int16_t x);
/* Sorts x[0..n-1] ascending with a fixed network of compare-exchanges (Batcher's merge
 * exchange, Knuth TAOCP 5.2.2 Algorithm M): the order of operations depends on n only. */
void sntrup761_sort_uint32(uint32_t *x, size_t n);
/* Short_fromlist: the weight-w vector (w entries +-1, the rest 0) that sorting the list picks. */
void sntrup761_short_fromlist(int8_t out[SNTRUP761_P], const uint32_t in[SNTRUP761_P]);
/* h = f * g in R/q = (Z/q)[x]/(x^p - x - 1); every coefficient of g must be -1, 0 or 1. */
void sntrup761_rq_mult_small(int16_t h[SNTRUP761_P], const int16_t f[SNTRUP761_P],
			     const int8_t g[SNTRUP761_P]);
/* Round: each coefficient to the nearest multiple of 3. */
void sntrup761_round(int16_t out[SNTRUP761_P], const int16_t a[SNTRUP761_P]);
/* Encodings (spec, "Encoding"). The decoders read public data (keys, ciphertexts) and are
 * public-time; every input string decodes, values out of range reduced. The encoders are
 * constant time. */
void sntrup761_rq_encode(uint8_t out[SNTRUP761_RQ_BYTES], const int16_t r[SNTRUP761_P]);
void sntrup761_rq_decode(int16_t r[SNTRUP761_P], const uint8_t in[SNTRUP761_RQ_BYTES]);
void sntrup761_rounded_encode(uint8_t out[SNTRUP761_ROUNDED_BYTES], const int16_t r[SNTRUP761_P]);
void sntrup761_rounded_decode(int16_t r[SNTRUP761_P], const uint8_t in[SNTRUP761_ROUNDED_BYTES]);
void sntrup761_small_encode(uint8_t out[SNTRUP761_SMALL_BYTES], const int8_t f[SNTRUP761_P]);
void sntrup761_small_decode(int8_t f[SNTRUP761_P], const uint8_t in[SNTRUP761_SMALL_BYTES]);

/* sntrup761.c */

/* Hash_prefix: the first 32 bytes of SHA-512(b || in). 0, or -1 when libcrypto fails. */
int sntrup761_hash_prefix(uint8_t out[SNTRUP761_HASH_BYTES], uint8_t b, const uint8_t *in,
			  size_t len);
/* Hide (spec, "Streamlined NTRU Prime"): r_enc = Small_encode(r) and
 * ct = Rounded_encode(Round(h r)) || HashConfirm(r_enc, Hash4(pk)). 0 or -1. */
int sntrup761_hide(uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], uint8_t r_enc[SNTRUP761_SMALL_BYTES],
		   const int8_t r[SNTRUP761_P], const uint8_t pk[SNTRUP761_RQ_BYTES]);
/* HashSession(b, r_enc, ct): Hash_b(Hash3(r_enc) || ct). b is 1 for a valid ciphertext. */
int sntrup761_hash_session(uint8_t ss[SNTRUP761_HASH_BYTES], uint8_t b,
			   const uint8_t r_enc[SNTRUP761_SMALL_BYTES],
			   const uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE]);

#endif
