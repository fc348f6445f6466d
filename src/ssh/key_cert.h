/* OpenSSH certificates (PROTOCOL.certkeys, "*-cert-v01@openssh.com"): a strict parser of the
 * certificate blob a client sends in USERAUTH_REQUEST, and the check of the CA's signature
 * over it. No clock and no policy here: whether a certificate may log in (trusted CA, type,
 * validity window, principals, critical options, revocation) is decided by the host
 * (src/auth/cert.c) from the parsed fields.
 *
 * Ownership: ssh_cert_parse gives the caller a certificate it frees with ssh_cert_free; the
 * certificate owns its copy of the blob (option data points into it), the certified key and
 * the CA key. In the engine the pending USERAUTH_REQUEST owns it, and the AUTH_REQUEST event
 * lends it (ev->cert) until the request is answered. */
#ifndef ALKNET_SSH_KEY_CERT_H
#define ALKNET_SSH_KEY_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"

enum ssh_cert_type {
	SSH_CERT_TYPE_USER = 1,
	SSH_CERT_TYPE_HOST = 2,
};

/* Bounds of what parses (every length in a certificate comes from the client). */
#define SSH_CERT_MAX_BLOB	16384 /* OpenSSH's SSH_MAX_PUBKEY_BYTES */
#define SSH_CERT_MAX_PRINCIPALS 256   /* OpenSSH's SSHKEY_CERT_MAX_PRINCIPALS */
#define SSH_CERT_MAX_OPTIONS	64    /* critical options, and extensions, each */
#define SSH_CERT_MAX_NAME	256   /* bytes of a principal or an option name */
#define SSH_CERT_MAX_KEY_ID	1024
#define SSH_CERT_MAX_NONCE	256
#define SSH_CERT_SUFFIX		"-cert-v01@openssh.com"

/* A critical option or an extension: its name (NUL-free, NUL-terminated) and the contents of
 * its data string (into the certificate's blob; for the defined ones empty, or one string). */
struct ssh_cert_option {
	char *name;
	const uint8_t *data;
	size_t len;
};

struct ssh_cert {
	const char *type_name; /* "ssh-ed25519-cert-v01@openssh.com", ... (static) */
	struct ssh_key *key;   /* the certified key: it signs the client's requests */
	uint64_t serial;
	uint32_t type; /* enum ssh_cert_type, or anything else the CA wrote */
	char *key_id;  /* NUL-free, NUL-terminated; log it escaped (log_safe) */
	char **principals;
	size_t n_principals;
	uint64_t valid_after, valid_before; /* seconds since the epoch; [after, before) */
	struct ssh_cert_option *critical;
	size_t n_critical;
	struct ssh_cert_option *extensions;
	size_t n_extensions;
	struct ssh_key *ca_key; /* the signature key (never itself a certificate) */
	uint8_t *blob;		/* the whole certificate as received */
	size_t len;
	size_t signed_len;  /* blob[0, signed_len) is what the CA signed */
	const uint8_t *sig; /* the CA's signature blob (string alg, string sigbytes) */
	size_t sig_len;
};

/* True if the type string name[0..len) names a certificate type we parse. */
bool ssh_cert_is_cert_type(const uint8_t *name, size_t len);
/* Parses a whole certificate blob: every field present, within the bounds above, no trailing
 * bytes (also none inside the principals, options and embedded keys), no NUL in the key ID,
 * principals or option names, no option name twice, a CA key that is a plain key. The
 * certified key is checked like a client's key (RSA: 2048 bits at least). 0 and *out, or
 * -EINVAL with a short reason in err (NULL allowed). */
int ssh_cert_parse(const uint8_t *blob, size_t len, struct ssh_cert **out, char *err,
		   size_t errlen);
/* A certificate from its public line "TYPE BASE64 [comment]" (ssh-keygen's KEY-cert.pub),
 * parsed as ssh_cert_parse does; TYPE must be the blob's. 0, or -EINVAL with a reason. */
int ssh_cert_parse_public(const char *line, struct ssh_cert **out, char *err, size_t errlen);
/* "SHA256:..." of the whole certificate blob: one certificate, where ssh_key_fingerprint of
 * c->key names the key it certifies. */
void ssh_cert_fingerprint(const struct ssh_cert *c, char out[SSH_KEY_FP_LEN]);
/* Verifies the CA's signature over the certificate with c->ca_key; the signature algorithm
 * must suit the CA key (no SHA-1 "ssh-rsa"). 0 if valid, -1 otherwise. */
int ssh_cert_verify_ca(const struct ssh_cert *c);
/* The critical option or extension called name in opts[0..n), or NULL. */
const struct ssh_cert_option *ssh_cert_option_find(const struct ssh_cert_option *opts, size_t n,
						   const char *name);
void ssh_cert_free(struct ssh_cert *c);

#endif
