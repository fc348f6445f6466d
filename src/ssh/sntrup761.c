/* sntrup761 encapsulation: hashing, Hide and Encap of "NTRU Prime: round 3" (Streamlined NTRU
 * Prime: Hashing, the KEM). The ring arithmetic and the encodings are in sntrup761_poly.c.
 *
 *   cache      = Hash4(pk)                           (Hash_b(x) = SHA-512(b || x)[0..32))
 *   r          = Short_fromlist(761 random words)    (weight w = 286, coefficients -1..1)
 *   r_enc      = Small_encode(r)
 *   ct         = Rounded_encode(Round(h r)) || Hash2(Hash3(r_enc) || cache)
 *   ss         = Hash1(Hash3(r_enc) || ct)           (HashSession with b = 1)
 *
 * Every secret buffer on the stack is wiped with OPENSSL_cleanse before returning. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sntrup761.h"
#include "sntrup761_internal.h"

#define P	   SNTRUP761_P
#define HASH_BYTES SNTRUP761_HASH_BYTES

/* The first 32 bytes of SHA-512(b || x || y); y may be NULL. 0, or -1 when libcrypto fails. */
static int hash2(uint8_t out[HASH_BYTES], uint8_t b, const uint8_t *x, size_t xlen,
		 const uint8_t *y, size_t ylen)
{
	uint8_t md[64];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = -1;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &b, 1) != 1 || EVP_DigestUpdate(ctx, x, xlen) != 1) {
		goto out;
	}
	if (y != NULL && EVP_DigestUpdate(ctx, y, ylen) != 1) {
		goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		goto out;
	}
	memcpy(out, md, HASH_BYTES);
	ret = 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MD_CTX_free(ctx);
	return ret;
}

int sntrup761_hash_prefix(uint8_t out[HASH_BYTES], uint8_t b, const uint8_t *in, size_t len)
{
	return hash2(out, b, in, len, NULL, 0);
}

/* Spec, HashConfirm(r_enc, cache) = Hash2(Hash3(r_enc) || cache). */
static int hash_confirm(uint8_t out[HASH_BYTES], const uint8_t r_enc[SNTRUP761_SMALL_BYTES],
			const uint8_t cache[HASH_BYTES])
{
	uint8_t h3[HASH_BYTES];
	int ret = hash2(h3, 3, r_enc, SNTRUP761_SMALL_BYTES, NULL, 0);

	if (ret == 0) {
		ret = hash2(out, 2, h3, sizeof(h3), cache, HASH_BYTES);
	}
	OPENSSL_cleanse(h3, sizeof(h3));
	return ret;
}

int sntrup761_hash_session(uint8_t ss[HASH_BYTES], uint8_t b,
			   const uint8_t r_enc[SNTRUP761_SMALL_BYTES], const uint8_t ct[1039])
{
	uint8_t h3[HASH_BYTES];
	int ret = hash2(h3, 3, r_enc, SNTRUP761_SMALL_BYTES, NULL, 0);

	if (ret == 0) {
		ret = hash2(ss, b, h3, sizeof(h3), ct, SNTRUP761_CIPHERTEXT_SIZE);
	}
	OPENSSL_cleanse(h3, sizeof(h3));
	return ret;
}

/* Spec, Encrypt(r, h) = Round(h r), then Rounded_encode: the first 1007 bytes of ct. */
static void encrypt_encode(uint8_t ct[SNTRUP761_ROUNDED_BYTES], const int8_t r[P],
			   const uint8_t pk[SNTRUP761_RQ_BYTES])
{
	int16_t h[P], hr[P];

	sntrup761_rq_decode(h, pk);
	sntrup761_rq_mult_small(hr, h, r);
	sntrup761_round(hr, hr);
	sntrup761_rounded_encode(ct, hr);
	OPENSSL_cleanse(hr, sizeof(hr));
}

int sntrup761_hide(uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], uint8_t r_enc[SNTRUP761_SMALL_BYTES],
		   const int8_t r[P], const uint8_t pk[SNTRUP761_RQ_BYTES])
{
	uint8_t cache[HASH_BYTES];

	if (hash2(cache, 4, pk, SNTRUP761_RQ_BYTES, NULL, 0) != 0) {
		return -1;
	}
	sntrup761_small_encode(r_enc, r);
	encrypt_encode(ct, r, pk);
	return hash_confirm(ct + SNTRUP761_ROUNDED_BYTES, r_enc, cache);
}

int sntrup761_encaps_det(uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], uint8_t ss[SNTRUP761_SECRET_SIZE],
			 const uint8_t pk[SNTRUP761_PUBLICKEY_SIZE],
			 const uint8_t rnd[SNTRUP761_RANDOM_SIZE])
{
	uint32_t words[P];
	int8_t r[P];
	uint8_t r_enc[SNTRUP761_SMALL_BYTES];
	int ret;

	/* Spec, urandom32: little-endian words; Short_random = Short_fromlist of them. */
	for (int i = 0; i < P; i++) {
		const uint8_t *c = rnd + 4 * i;
		words[i] = c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
	}
	sntrup761_short_fromlist(r, words);
	ret = sntrup761_hide(ct, r_enc, r, pk);
	if (ret == 0) {
		ret = sntrup761_hash_session(ss, 1, r_enc, ct);
	}
	if (ret != 0) {
		memset(ct, 0, SNTRUP761_CIPHERTEXT_SIZE);
		OPENSSL_cleanse(ss, SNTRUP761_SECRET_SIZE);
	}
	OPENSSL_cleanse(words, sizeof(words));
	OPENSSL_cleanse(r, sizeof(r));
	OPENSSL_cleanse(r_enc, sizeof(r_enc));
	return ret;
}

int sntrup761_encaps(uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], uint8_t ss[SNTRUP761_SECRET_SIZE],
		     const uint8_t pk[SNTRUP761_PUBLICKEY_SIZE])
{
	uint8_t rnd[SNTRUP761_RANDOM_SIZE];
	int ret = -1;

	if (RAND_bytes(rnd, sizeof(rnd)) == 1) {
		ret = sntrup761_encaps_det(ct, ss, pk, rnd);
	} else {
		memset(ct, 0, SNTRUP761_CIPHERTEXT_SIZE);
		memset(ss, 0, SNTRUP761_SECRET_SIZE);
	}
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return ret;
}
