/* SSH keys on OpenSSL EVP_PKEY: OpenSSH private keys, public key blobs and lines,
 * signatures in SSH wire format, SHA256 fingerprints. */
#ifndef ALKNET_SSH_KEY_H
#define ALKNET_SSH_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ssh_key_type {
	SSH_KEY_ED25519 = 1,
	SSH_KEY_ECDSA_P256 = 2,
	SSH_KEY_ECDSA_P384 = 3,
	SSH_KEY_ECDSA_P521 = 4,
	SSH_KEY_RSA = 5,
};

struct ssh_key;

/* "SHA256:" + 43 base64 chars + NUL */
#define SSH_KEY_FP_LEN 51

/* Parses an unencrypted OpenSSH private key ("-----BEGIN OPENSSH PRIVATE KEY-----") from the
 * len bytes at text (no NUL needed; the engine reads no files: see src/hostkey.h).
 * On failure returns a negative value and writes a one-line reason to err (e.g. "key is
 * encrypted (passphrase); alknet needs an unencrypted key", "PEM keys are not supported; convert
 * with ssh-keygen -p -f KEY" , "unsupported key type ssh-dss", "file is not a private key"). */
int ssh_key_parse_private(const char *text, size_t len, struct ssh_key **out, char *err,
			  size_t errlen);

/* Public key from its wire blob (string type, ...). Validates the point/size. 0 or -EINVAL.
 * Uses no per-loop libcrypto cache (the engine's own calls do; see ssh_crypto_new). */
int ssh_key_from_blob(const uint8_t *blob, size_t len, struct ssh_key **out);
/* Public key from "TYPE BASE64 [comment]" (leading spaces allowed, no options). Checks that
 * TYPE matches the blob's type. 0 or -EINVAL with a reason in err. */
int ssh_key_parse_public(const char *line, struct ssh_key **out, char *err, size_t errlen);

enum ssh_key_type ssh_key_type(const struct ssh_key *k);
/* Wire name of the key: "ssh-ed25519", "ecdsa-sha2-nistp256", ..., "ssh-rsa". */
const char *ssh_key_type_name(const struct ssh_key *k);
const uint8_t *ssh_key_blob(const struct ssh_key *k, size_t *len);
bool ssh_key_has_private(const struct ssh_key *k);
/* Constant-time comparison of the public blobs. */
bool ssh_key_equal(const struct ssh_key *a, const struct ssh_key *b);
/* "SHA256:<base64 without padding>" exactly as `ssh-keygen -l` prints it. */
void ssh_key_fingerprint(const struct ssh_key *k, char out[SSH_KEY_FP_LEN]);

/* Signature algorithm names this key can produce/verify: for RSA "rsa-sha2-512", "rsa-sha2-256";
 * for the others the type name. Returns true if alg is acceptable for k (never "ssh-rsa"). */
bool ssh_key_alg_ok(const struct ssh_key *k, const char *alg, size_t alglen);

/* Signs data; *sig gets the SSH signature blob (string alg, string sigbytes; ECDSA's sigbytes are
 * mpint r, mpint s), allocated with xmalloc. alg NULL means the key's default (rsa-sha2-512 for
 * RSA). Returns 0 or -1. */
int ssh_key_sign(const struct ssh_key *k, const char *alg, const uint8_t *data, size_t len,
		 uint8_t **sig, size_t *siglen);
/* Verifies an SSH signature blob over data. The blob's algorithm must equal alg (the one named
 * in the auth request) and be acceptable for k. Returns 0 if valid, -1 otherwise. */
int ssh_key_verify(const struct ssh_key *k, const char *alg, size_t alglen, const uint8_t *sig,
		   size_t siglen, const uint8_t *data, size_t len);

void ssh_key_free(struct ssh_key *k);

#endif
