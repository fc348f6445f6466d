/* What the parts of the key module share: key.c (types, public blobs and lines), key_private.c
 * (openssh-key-v1 private keys) and key_sign.c (signatures). Not for use outside src/ssh/key*.c;
 * everyone else uses key.h. */
#ifndef ALKNET_SSH_KEY_INTERNAL_H
#define ALKNET_SSH_KEY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "buf.h"
#include "key.h"

struct ssh_crypto;

#define KEY_RSA_MIN_BITS      1024 /* to load at all (OpenSSH's minimum) */
#define KEY_RSA_MIN_AUTH_BITS 2048 /* for a client's key in a USERAUTH_REQUEST */
#define KEY_RSA_MAX_BITS      16384
#define KEY_RSA_MAX_E_BITS    32 /* public exponents up to 2^32 - 1 */
#define KEY_RSA_MAX_BYTES     (KEY_RSA_MAX_BITS / 8)
#define KEY_ED25519_PK_LEN    32
#define KEY_ED25519_SK_LEN    64
#define KEY_ED25519_SIG_LEN   64

struct key_info {
	enum ssh_key_type type;
	const char *name;  /* wire name of the key type */
	const char *curve; /* ECDSA: curve name in the blob */
	const char *group; /* ECDSA: OpenSSL group name */
	const char *md;	   /* ECDSA: signature digest */
	size_t field_len;  /* ECDSA: bytes per coordinate */
};

struct ssh_key {
	const struct key_info *info;
	EVP_PKEY *pkey;
	bool has_private;
	uint8_t *blob; /* canonical public blob, built from pkey at creation */
	size_t bloblen;
};

/* key.c */

/* Writes a one-line reason into err (which may be NULL). */
void key_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Base64 (padding required; allow_ws skips whitespace, as in PEM bodies). 0 and an xmalloc'd
 * *out the caller frees with freezero(*out, *outlen), or -EINVAL. */
int key_b64_decode(const char *s, size_t n, bool allow_ws, uint8_t **out, size_t *outlen);
/* Appends bn as an SSH mpint. */
void key_put_bn(struct sbuf *b, const BIGNUM *bn);
/* A non-negative mpint of at most maxbytes (secret: in the secure heap), freed by the caller
 * with BN_clear_free; NULL if malformed. */
BIGNUM *key_get_mpint(struct sreader *r, size_t maxbytes, bool secret);
/* Wraps pkey (owned from now on, even on failure); NULL if pkey is NULL or unusable. */
struct ssh_key *key_new(const struct key_info *info, EVP_PKEY *pkey, bool priv);
/* ECDSA key from the point q (and the scalar d of a private key), checked to be on the curve. */
EVP_PKEY *key_ec_pkey(const struct key_info *info, const uint8_t *q, size_t qlen, const BIGNUM *d);
/* RSA key from n, e (nbn 2) or all eight private parameters (nbn 8), size limits enforced. */
EVP_PKEY *key_rsa_pkey(BIGNUM *const bn[], int nbn);
/* A public key blob from r; trailing bytes are left for the caller. cr: the per-loop
 * libcrypto cache, or NULL (see crypto.h). 0 or -EINVAL. */
int key_parse_blob(struct ssh_crypto *cr, struct sreader *r, struct ssh_key **out, char *err,
		   size_t errlen);

/* The public fields of a key of type t as a certificate embeds them (the blob's fields after
 * its type string); NULL if malformed or out of bounds. */
struct ssh_key *key_parse_fields(struct ssh_crypto *cr, enum ssh_key_type t, struct sreader *r);
/* "SHA256:<base64 without padding>" of any blob. */
void key_blob_fingerprint(const uint8_t *blob, size_t len, char out[SSH_KEY_FP_LEN]);
/* RSA keys need KEY_RSA_MIN_AUTH_BITS to log in; other types always pass. */
bool key_auth_size_ok(const struct ssh_key *k);

/* key_sign.c */

/* The signature algorithm k uses when none is named: rsa-sha2-512 for RSA, else its type. */
const char *key_default_alg(const struct ssh_key *k);

#endif
