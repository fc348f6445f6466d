/* ML-KEM-768 encapsulation (NIST FIPS 203, August 2024), the server's half of the
 * post-quantum key exchange mlkem768x25519-sha256: the client sends an encapsulation key,
 * the server answers with a ciphertext and keeps the 32-byte shared secret. Decapsulation
 * and key generation are not here: the server never needs them.
 *
 * Parameter set ML-KEM-768 (FIPS 203 §8, Table 2): n = 256, q = 3329, k = 3, eta1 = 2,
 * eta2 = 2, du = 10, dv = 4. Encapsulation key 384k + 32 = 1184 bytes, ciphertext
 * 32 (du k + dv) = 1088 bytes, shared secret 32 bytes.
 *
 * No state, no allocation kept between calls, no I/O: every call fetches the SHA-3 digests
 * from libcrypto, uses them and frees them. The caller owns every buffer. */
#ifndef ALKNET_SSH_MLKEM768_H
#define ALKNET_SSH_MLKEM768_H

#include <stddef.h>
#include <stdint.h>

#define MLKEM768_EK_BYTES 1184
#define MLKEM768_CT_BYTES 1088
#define MLKEM768_SS_BYTES 32
#define MLKEM768_M_BYTES  32

enum mlkem768_err {
	MLKEM768_OK = 0,
	MLKEM768_ERR_KEY = -1,	  /* ek fails the FIPS 203 §7.2 checks: length or modulus */
	MLKEM768_ERR_CRYPTO = -2, /* libcrypto failed (a digest, the random generator) */
};

/* FIPS 203 §7.2 input checks on an encapsulation key: ek_len must be 1184 (type check) and
 * every 12-bit coefficient of the 3 encoded polynomials must be below q (modulus check:
 * ByteEncode12(ByteDecode12(ek)) == ek). Returns MLKEM768_OK or MLKEM768_ERR_KEY. The key
 * is public: this check may take a time that depends on it. */
int mlkem768_check_ek(const uint8_t *ek, size_t ek_len);

/* ML-KEM.Encaps (FIPS 203 Algorithm 20) with m from RAND_priv_bytes: checks ek, writes the
 * 1088-byte ciphertext to ct and the 32-byte shared secret to ss. Returns 0, or a negative
 * enum mlkem768_err with ct and ss zeroed. Built against OpenSSL 3.5 or later, libcrypto's
 * own ML-KEM-768 does the work (after our ek check); before that, our code below. */
int mlkem768_encaps(uint8_t ct[MLKEM768_CT_BYTES], uint8_t ss[MLKEM768_SS_BYTES], const uint8_t *ek,
		    size_t ek_len);

/* ML-KEM.Encaps_internal (FIPS 203 Algorithm 17) with the caller's 32 random bytes m: the
 * deterministic core, for known-answer tests. Always our implementation. Same checks and
 * results as mlkem768_encaps. m is only read; the caller wipes it. */
int mlkem768_encaps_derand(uint8_t ct[MLKEM768_CT_BYTES], uint8_t ss[MLKEM768_SS_BYTES],
			   const uint8_t *ek, size_t ek_len, const uint8_t m[MLKEM768_M_BYTES]);

#endif
