/* Engine internals: the libcrypto objects a session needs, from the caller's per-loop cache
 * (struct ssh_crypto, see ssh.h) or, without one, made for the one use.
 *
 * Every getter takes cr (NULL allowed) and a `fresh` out-pointer. With a cache, the object
 * belongs to the cache, lives as long as it, and *fresh is set to NULL. Without one (cr NULL:
 * key files loaded at start-up, tests, fuzzers), the object is new and *fresh points to it as
 * well: the caller frees it with the matching *_free once done. Either way NULL is returned
 * when libcrypto can't provide the object; a cache tries again at the next call. */
#ifndef ALKNET_SSH_CRYPTO_H
#define ALKNET_SSH_CRYPTO_H

#include <openssl/types.h>

#include "cipher.h"

struct ssh_crypto;

enum crypto_mac {
	CRYPTO_MAC_POLY1305 = 0,
	CRYPTO_MAC_HMAC = 1,
};

enum crypto_pkey {
	CRYPTO_PKEY_ED25519 = 0,       /* for EVP_PKEY_fromdata (public keys from raw bytes) */
	CRYPTO_PKEY_X25519 = 1,	       /* likewise */
	CRYPTO_PKEY_X25519_KEYGEN = 2, /* keygen already initialised: EVP_PKEY_generate */
	CRYPTO_PKEY_P256_KEYGEN = 3,   /* the same for the NIST curves (ecdh-sha2-nistp*) */
	CRYPTO_PKEY_P384_KEYGEN = 4,
	CRYPTO_PKEY_P521_KEYGEN = 5,
	CRYPTO_PKEY_EC = 6,	     /* for EVP_PKEY_fromdata (a client's EC point) */
	CRYPTO_PKEY_DH14_KEYGEN = 7, /* RFC 3526 groups 14, 16, 18 with their exponent size */
	CRYPTO_PKEY_DH16_KEYGEN = 8,
	CRYPTO_PKEY_DH18_KEYGEN = 9,
	CRYPTO_PKEY_DH = 10, /* for EVP_PKEY_fromdata (a client's DH value) */
};

enum crypto_md {
	CRYPTO_MD_SHA256 = 0,
	CRYPTO_MD_SHA384 = 1,
	CRYPTO_MD_SHA512 = 2,
};

/* The cipher for id (CIPHER_CHACHAPOLY ... CIPHER_AES192_CTR). */
const EVP_CIPHER *crypto_cipher(struct ssh_crypto *cr, enum cipher_id id, EVP_CIPHER **fresh);
EVP_MAC *crypto_mac(struct ssh_crypto *cr, enum crypto_mac m, EVP_MAC **fresh);
/* SHA-256 for the exchange hash and key derivation. */
const EVP_MD *crypto_sha256(struct ssh_crypto *cr, EVP_MD **fresh);
/* The digest of a key exchange method (enum kex_hash has the same values). */
const EVP_MD *crypto_md(struct ssh_crypto *cr, enum crypto_md which, EVP_MD **fresh);
/* A context to be used and re-initialised by one caller at a time: a cached one keeps the
 * state of its last use, so callers run the *_init step they need first (fromdata_init),
 * except for the *_KEYGEN ones, which come ready for EVP_PKEY_generate. */
EVP_PKEY_CTX *crypto_pkey_ctx(struct ssh_crypto *cr, enum crypto_pkey which, EVP_PKEY_CTX **fresh);

#endif
