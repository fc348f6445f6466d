/* Streamlined NTRU Prime sntrup761: encapsulation only (the server side of the
 * sntrup761x25519-sha512 key exchange, RFC 9941). Written from "NTRU Prime: round 3" (NIST
 * PQC round-3 submission, 2020-10-07), the Streamlined NTRU Prime parts of its specification
 * (Core, Encoding, Hashing, KEM), with p = 761, q = 4591, w = 286. See docs/sntrup761.md.
 *
 * Inputs: every 1158-byte string is a public key. The specification's Decode reduces each
 * coefficient into its range (Encoding: Decode is defined on every string), so no public
 * key is rejected; a public key that no KeyGen produced just yields a ciphertext and a key
 * nobody else can compute. The functions fail only when libcrypto does (SHA-512, RAND_bytes);
 * then ct and ss are zeroed and -1 is returned.
 *
 * No allocation; everything secret on the stack is wiped before returning. */
#ifndef ALKNET_SSH_SNTRUP761_H
#define ALKNET_SSH_SNTRUP761_H

#include <stdint.h>

#define SNTRUP761_PUBLICKEY_SIZE  1158
#define SNTRUP761_CIPHERTEXT_SIZE 1039 /* Rounded_encode(c) (1007) || confirm (32) */
#define SNTRUP761_SECRET_SIZE	  32
#define SNTRUP761_RANDOM_SIZE	  3044 /* p = 761 little-endian 32-bit words for Short_random */

/* Encapsulates to pk with fresh randomness from RAND_bytes: the ciphertext to send and the
 * 32-byte shared secret. 0, or -1 when libcrypto fails (ct and ss zeroed). */
int sntrup761_encaps(uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], uint8_t ss[SNTRUP761_SECRET_SIZE],
		     const uint8_t pk[SNTRUP761_PUBLICKEY_SIZE]);

/* The same with the randomness given: rnd is the 761 words Short_random draws (word i is bytes
 * 4i..4i+3, little-endian, as urandom32 reads them), so the reference implementation's
 * randombytes() stream reproduces its outputs. For known-answer tests; rnd is secret. */
int sntrup761_encaps_det(uint8_t ct[SNTRUP761_CIPHERTEXT_SIZE], uint8_t ss[SNTRUP761_SECRET_SIZE],
			 const uint8_t pk[SNTRUP761_PUBLICKEY_SIZE],
			 const uint8_t rnd[SNTRUP761_RANDOM_SIZE]);

#endif
