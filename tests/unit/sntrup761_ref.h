/* TEST CODE ONLY: the parts of sntrup761 the server never runs (key generation and
 * decapsulation), and NIST's AES-256 CTR DRBG that the known-answer files are generated with,
 * written for tests/unit/test_sntrup761.c and the fuzzer. Variable time, not hardened: never
 * link these into the server. */
#ifndef ALKNET_TEST_SNTRUP761_REF_H
#define ALKNET_TEST_SNTRUP761_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Secret key: f (191) || 1/g (191) || pk (1158) || rho (191) || Hash4(pk) (32). */
#define REF_SNTRUP761_SK_SIZE 1763

/* NIST PQC rng.c: AES-256 CTR_DRBG without derivation function or reseeding. words_at_once
 * chooses how a list of 761 words is drawn: one randombytes(3044) call, or 761 calls of 4 bytes
 * (the reference code's urandom32). The two give different streams. */
struct ref_rng {
	uint8_t key[32];
	uint8_t v[16];
	bool words_at_once;
};

void ref_rng_init(struct ref_rng *g, const uint8_t seed[48], bool words_at_once);
void ref_rng_bytes(struct ref_rng *g, uint8_t *out, size_t n);
/* 761 words as 3044 bytes, in the chunking g was set up with. */
void ref_rng_words(struct ref_rng *g, uint8_t out[3044]);

/* Spec KeyGen plus the KEM's secret-key layout. g NULL: RAND_bytes. */
void ref_keygen(uint8_t pk[1158], uint8_t sk[REF_SNTRUP761_SK_SIZE], struct ref_rng *g);
/* Spec Decap: re-encrypts with our sntrup761_hide and falls back to Hash0(Hash3(rho) || ct) when
 * the ciphertext differs (implicit rejection). */
void ref_decaps(uint8_t ss[32], const uint8_t ct[1039], const uint8_t sk[REF_SNTRUP761_SK_SIZE]);

/* Inverse of a (coefficients taken mod n) in (Z/n)[x]/(x^761 - x - 1), n prime, coefficients
 * of out in 0..n-1. 0, or -1 if a is not invertible. Plain extended Euclid. */
int ref_poly_inv(int32_t out[761], const int32_t a[761], int32_t n);

#endif
