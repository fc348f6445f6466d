/* OpenSSH certificates (key_cert.h): the blob format of PROTOCOL.certkeys,
 *
 *     string type ("ssh-ed25519-cert-v01@openssh.com", ...)   string nonce
 *     the key's public fields (as in its plain blob, after the type string)
 *     uint64 serial   uint32 type   string key id   string valid principals
 *     uint64 valid after   uint64 valid before   string critical options
 *     string extensions   string reserved   string signature key   string signature
 *
 * parsed strictly: every length bounded (key_cert.h), nothing left over at any level. The
 * reserved field is read and ignored, as the spec says. Option order is not checked (the
 * spec asks CAs for lexical order; OpenSSH doesn't check it either), but a name given twice
 * is refused: it could mean one thing to the CA and another to us. */
#include "key_cert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../xmalloc.h"
#include "buf.h"
#include "internal.h"
#include "key.h"
#include "key_internal.h"

static const struct {
	const char *name;
	enum ssh_key_type type;
} cert_types[] = {
	{"ssh-ed25519-cert-v01@openssh.com", SSH_KEY_ED25519},
	{"ecdsa-sha2-nistp256-cert-v01@openssh.com", SSH_KEY_ECDSA_P256},
	{"ecdsa-sha2-nistp384-cert-v01@openssh.com", SSH_KEY_ECDSA_P384},
	{"ecdsa-sha2-nistp521-cert-v01@openssh.com", SSH_KEY_ECDSA_P521},
	{"ssh-rsa-cert-v01@openssh.com", SSH_KEY_RSA},
};

#define CERT_N_TYPES (sizeof(cert_types) / sizeof(cert_types[0]))

static int cert_type_index(const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < CERT_N_TYPES; i++) {
		if (sreader_string_eq(name, len, cert_types[i].name))
			return (int)i;
	}
	return -1;
}

bool ssh_cert_is_cert_type(const uint8_t *name, size_t len)
{
	return cert_type_index(name, len) >= 0;
}

static uint64_t read_u64(struct sreader *r)
{
	uint64_t hi = sreader_u32(r);

	return hi << 32 | sreader_u32(r);
}

/* A string of at most max bytes without a NUL, as an xmalloc'd C string; NULL otherwise. */
static char *read_cstring(struct sreader *r, size_t max)
{
	size_t n;
	const uint8_t *p = sreader_string(r, &n);

	if (r->err || n > max || memchr(p, '\0', n) != NULL)
		return NULL;
	return xstrndup((const char *)p, n);
}

/* The valid principals: a string holding a sequence of strings. */
static const char *read_principals(struct ssh_cert *c, struct sreader *outer)
{
	struct sreader r;
	size_t n;
	const uint8_t *p = sreader_string(outer, &n);

	if (outer->err)
		return "truncated principals";
	sreader_init(&r, p, n);
	while (sreader_left(&r) > 0) {
		if (c->n_principals == SSH_CERT_MAX_PRINCIPALS)
			return "too many principals";
		char *name = read_cstring(&r, SSH_CERT_MAX_NAME);
		if (name == NULL)
			return "malformed principal";
		c->principals = xrealloc(c->principals, (c->n_principals + 1) * sizeof(char *));
		c->principals[c->n_principals++] = name;
	}
	return NULL;
}

/* Critical options or extensions: a string holding (string name, string data) pairs. */
static const char *read_options(struct sreader *outer, struct ssh_cert_option **opts, size_t *n)
{
	struct sreader r;
	size_t len;
	const uint8_t *p = sreader_string(outer, &len);

	if (outer->err)
		return "truncated options";
	sreader_init(&r, p, len);
	while (sreader_left(&r) > 0) {
		if (*n == SSH_CERT_MAX_OPTIONS)
			return "too many options";
		char *name = read_cstring(&r, SSH_CERT_MAX_NAME);
		size_t dlen;
		const uint8_t *data = sreader_string(&r, &dlen);
		if (name == NULL || r.err) {
			free(name);
			return "malformed option";
		}
		if (ssh_cert_option_find(*opts, *n, name) != NULL) {
			free(name);
			return "option given twice";
		}
		*opts = xrealloc(*opts, (*n + 1) * sizeof(**opts));
		(*opts)[(*n)++] = (struct ssh_cert_option){.name = name, .data = data, .len = dlen};
	}
	return NULL;
}

/* The signature key: a whole plain key blob (a certificate as CA is refused). */
static const char *read_ca_key(struct ssh_cert *c, struct sreader *r)
{
	size_t n;
	const uint8_t *p = sreader_string(r, &n);

	if (r->err)
		return "truncated signature key";
	if (ssh_key_from_blob(p, n, &c->ca_key) != 0)
		return "bad signature key";
	return NULL;
}

/* The fields after the certified key, up to the end of the blob. */
static const char *read_body(struct ssh_cert *c, struct sreader *r)
{
	const char *why;
	size_t n;

	c->serial = read_u64(r);
	c->type = sreader_u32(r);
	if (r->err)
		return "truncated serial or type";
	if ((c->key_id = read_cstring(r, SSH_CERT_MAX_KEY_ID)) == NULL)
		return "bad key id";
	if ((why = read_principals(c, r)) != NULL)
		return why;
	c->valid_after = read_u64(r);
	c->valid_before = read_u64(r);
	if (r->err)
		return "truncated validity";
	if ((why = read_options(r, &c->critical, &c->n_critical)) != NULL ||
	    (why = read_options(r, &c->extensions, &c->n_extensions)) != NULL)
		return why;
	(void)sreader_string(r, &n); /* reserved: ignored (PROTOCOL.certkeys) */
	if (r->err)
		return "truncated reserved field";
	if ((why = read_ca_key(c, r)) != NULL)
		return why;
	c->signed_len = r->off;
	c->sig = sreader_string(r, &c->sig_len);
	if (r->err)
		return "truncated signature";
	if (sreader_left(r) != 0)
		return "trailing bytes";
	return NULL;
}

/* The parse itself, on c->blob. */
static const char *cert_read(struct ssh_crypto *cr, struct ssh_cert *c)
{
	struct sreader r;
	size_t tn, nn;
	const uint8_t *t;
	int i;

	sreader_init(&r, c->blob, c->len);
	t = sreader_string(&r, &tn);
	if (r.err || (i = cert_type_index(t, tn)) < 0)
		return "not a certificate type";
	c->type_name = cert_types[i].name;
	(void)sreader_string(&r, &nn);
	if (r.err || nn > SSH_CERT_MAX_NONCE)
		return "bad nonce";
	c->key = key_parse_fields(cr, cert_types[i].type, &r);
	if (c->key == NULL || r.err)
		return "bad certified key";
	if (!key_auth_size_ok(c->key))
		return "certified key too small";
	return read_body(c, &r);
}

int key_cert_parse(struct ssh_crypto *cr, const uint8_t *blob, size_t len, struct ssh_cert **out,
		   char *err, size_t errlen)
{
	struct ssh_cert *c;
	const char *why;

	if (len > SSH_CERT_MAX_BLOB) {
		key_err(err, errlen, "certificate too large");
		return -EINVAL;
	}
	c = xcalloc(1, sizeof(*c));
	c->blob = xmalloc(len ? len : 1);
	if (len > 0)
		memcpy(c->blob, blob, len); /* blob may be NULL when len is 0 */
	c->len = len;
	if ((why = cert_read(cr, c)) != NULL) {
		key_err(err, errlen, "%s", why);
		ssh_cert_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

int ssh_cert_parse(const uint8_t *blob, size_t len, struct ssh_cert **out, char *err, size_t errlen)
{
	return key_cert_parse(NULL, blob, len, out, err, errlen);
}

int ssh_cert_parse_public(const char *line, struct ssh_cert **out, char *err, size_t errlen)
{
	const char *p = line + strspn(line, " \t");
	size_t tn = strcspn(p, " \t\r\n"), bn, n;
	const char *b64 = p + tn + strspn(p + tn, " \t");
	uint8_t *blob = NULL;
	struct sreader r;
	int ret = -EINVAL;

	bn = strcspn(b64, " \t\r\n");
	if (!ssh_cert_is_cert_type((const uint8_t *)p, tn)) {
		key_err(err, errlen, "not a certificate type");
		return ret;
	}
	if (bn == 0 || key_b64_decode(b64, bn, false, &blob, &n) != 0) {
		key_err(err, errlen, bn == 0 ? "missing certificate data" : "bad base64");
		return ret;
	}
	sreader_init(&r, blob, n);
	const uint8_t *t = sreader_string(&r, &tn);
	if (r.err || tn != strcspn(p, " \t\r\n") || memcmp(t, p, tn) != 0)
		key_err(err, errlen, "certificate type does not match its data");
	else
		ret = ssh_cert_parse(blob, n, out, err, errlen);
	free(blob);
	return ret;
}

void ssh_cert_fingerprint(const struct ssh_cert *c, char out[SSH_KEY_FP_LEN])
{
	key_blob_fingerprint(c->blob, c->len, out);
}

int ssh_cert_verify_ca(const struct ssh_cert *c)
{
	struct sreader r;
	size_t an;
	const uint8_t *alg;

	sreader_init(&r, c->sig, c->sig_len);
	alg = sreader_string(&r, &an);
	if (r.err || !ssh_key_alg_ok(c->ca_key, (const char *)alg, an))
		return -1;
	return ssh_key_verify(c->ca_key, (const char *)alg, an, c->sig, c->sig_len, c->blob,
			      c->signed_len);
}

const struct ssh_cert_option *ssh_cert_option_find(const struct ssh_cert_option *opts, size_t n,
						   const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	}
	return NULL;
}

static void free_options(struct ssh_cert_option *opts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(opts[i].name);
	free(opts);
}

void ssh_cert_free(struct ssh_cert *c)
{
	if (c == NULL)
		return;
	ssh_key_free(c->key);
	ssh_key_free(c->ca_key);
	free(c->key_id);
	for (size_t i = 0; i < c->n_principals; i++)
		free(c->principals[i]);
	free(c->principals);
	free_options(c->critical, c->n_critical);
	free_options(c->extensions, c->n_extensions);
	free(c->blob);
	free(c);
}
