/* SSH keys on OpenSSL 3 EVP_PKEY (non-deprecated APIs only): the key types, public key blobs
 * and "TYPE BASE64" lines, fingerprints. The OpenSSH private key format is in key_private.c,
 * signatures in key_sign.c; what the three share is in key_internal.h.
 *
 * Wire formats: RFC 4253 §6.6 and RFC 8332 (ssh-rsa keys), RFC 5656
 * (ecdsa-sha2-nistp256/384/521), RFC 8709 (ssh-ed25519).
 *
 * RSA moduli from 1024 to 16384 bits load: 1024 is OpenSSH's own minimum
 * (SSH_RSA_MINIMUM_MODULUS_SIZE), so any key OpenSSH still uses loads here. A key a client
 * offers in a USERAUTH_REQUEST (key_from_blob) needs 2048 bits. RSA public exponents are odd,
 * from 3 to 2^32 - 1. ECDSA points must lie on their curve; Ed25519 keys are 32 bytes. */
#include "key.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "../xmalloc.h"
#include "buf.h"
#include "crypto.h"
#include "internal.h"
#include "key_internal.h"

static const struct key_info key_infos[] = {
	{SSH_KEY_ED25519, "ssh-ed25519", NULL, NULL, NULL, 0},
	{SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256", "nistp256", "P-256", "SHA256", 32},
	{SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384", "nistp384", "P-384", "SHA384", 48},
	{SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521", "nistp521", "P-521", "SHA512", 66},
	{SSH_KEY_RSA, "ssh-rsa", NULL, NULL, NULL, 0},
};

/* Writes a one-line reason into err (which may be NULL). */
void key_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct key_info *key_info_by_name(const void *name, size_t len)
{
	for (size_t i = 0; i < sizeof(key_infos) / sizeof(key_infos[0]); i++) {
		if (sreader_string_eq(name, len, key_infos[i].name)) {
			return &key_infos[i];
		}
	}
	return NULL;
}

/* Copies an untrusted name into out for an error message: printable ASCII, at most 40 chars. */
static void key_sanitize(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 40 && i + 1 < outlen; i++) {
		out[i] = (p[i] > ' ' && p[i] < 0x7f) ? (char)p[i] : '?';
	}
	out[i] = '\0';
}

/* Decodes base64 text (padding required, as OpenSSH writes it). With allow_ws, whitespace
 * anywhere is skipped (PEM bodies). Returns 0 and an xmalloc'd buffer the caller frees with
 * freezero(*out, *outlen), or -EINVAL. */
int key_b64_decode(const char *s, size_t n, bool allow_ws, uint8_t **out, size_t *outlen)
{
	char *clean = xmalloc(n + 1);
	size_t len = 0, pad = 0;
	int ret = -EINVAL;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (allow_ws && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			continue;
		}
		if ((!b64 && c != '=') || (b64 && pad > 0) || (c == '=' && ++pad > 2)) {
			goto out;
		}
		clean[len++] = (char)c;
	}
	if (len == 0 || len % 4 != 0) {
		goto out;
	}
	*out = xmalloc(len / 4 * 3);
	int m = EVP_DecodeBlock(*out, (const unsigned char *)clean, (int)len);
	if (m < 0 || (size_t)m != len / 4 * 3) {
		freezero(*out, len / 4 * 3);
		*out = NULL;
		goto out;
	}
	*outlen = (size_t)m - pad;
	ret = 0;
out:
	freezero(clean, n + 1);
	return ret;
}

/* Appends BIGNUM bn as an SSH mpint. */
void key_put_bn(struct sbuf *b, const BIGNUM *bn)
{
	size_t n = (size_t)BN_num_bytes(bn);
	uint8_t *tmp = xmalloc(n);

	BN_bn2bin(bn, tmp);
	sbuf_put_mpint(b, tmp, n);
	freezero(tmp, n);
}

/* Reads an SSH mpint as a non-negative BIGNUM of at most maxbytes significant bytes (secret ones
 * in OpenSSL's secure heap). Returns a new BIGNUM the caller frees with BN_clear_free, or NULL. */
BIGNUM *key_get_mpint(struct sreader *r, size_t maxbytes, bool secret)
{
	size_t n;
	const uint8_t *p = sreader_string(r, &n);
	BIGNUM *bn;

	if (r->err || (n > 0 && (p[0] & 0x80))) {
		return NULL;
	}
	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n > maxbytes) {
		return NULL;
	}
	bn = secret ? BN_secure_new() : BN_new();
	if (bn == NULL || BN_bin2bn(p, (int)n, bn) == NULL) {
		BN_clear_free(bn);
		return NULL;
	}
	return bn;
}

/* Builds the canonical public blob of k from its EVP_PKEY. Returns 0 or -1. */
static int key_encode_blob(struct ssh_key *k)
{
	struct sbuf b = {0};
	uint8_t pub[1 + 2 * 66];
	size_t n = 0;
	BIGNUM *e = NULL, *m = NULL;
	int ret = -1;

	sbuf_put_cstring(&b, k->info->name);
	if (k->info->type == SSH_KEY_ED25519) {
		n = sizeof(pub);
		if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &n) == 1 && n == KEY_ED25519_PK_LEN) {
			sbuf_put_string(&b, pub, n);
			ret = 0;
		}
	} else if (k->info->type == SSH_KEY_RSA) {
		if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
		    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &m) == 1) {
			key_put_bn(&b, e);
			key_put_bn(&b, m);
			ret = 0;
		}
	} else {
		sbuf_put_cstring(&b, k->info->curve);
		if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pub,
						    sizeof(pub), &n) == 1 &&
		    n == 1 + 2 * k->info->field_len && pub[0] == 0x04) {
			sbuf_put_string(&b, pub, n);
			ret = 0;
		}
	}
	BN_free(e);
	BN_free(m);
	if (ret == 0) {
		k->blob = b.data; /* public: kept as is, freed with free() */
		k->bloblen = b.len;
	} else {
		sbuf_free(&b);
	}
	return ret;
}

/* Wraps pkey in a new key (taking ownership of pkey even on failure) and caches its blob.
 * Returns the key or NULL. */
struct ssh_key *key_new(const struct key_info *info, EVP_PKEY *pkey, bool priv)
{
	struct ssh_key *k;

	if (pkey == NULL) {
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->info = info;
	k->pkey = pkey;
	k->has_private = priv;
	if (key_encode_blob(k) != 0) {
		ssh_key_free(k);
		return NULL;
	}
	return k;
}

/* Runs EVP_PKEY_fromdata for algorithm alg on the parameters in bld. Returns the key or NULL. */
static EVP_PKEY *key_fromdata(const char *alg, int selection, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* ECDSA key on info's curve from the uncompressed point q and, for a private key, scalar d.
 * The point is checked to lie on the curve. Returns the key or NULL. */
EVP_PKEY *key_ec_pkey(const struct key_info *info, const uint8_t *q, size_t qlen, const BIGNUM *d)
{
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;

	if (qlen != 1 + 2 * info->field_len || q[0] != 0x04 ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL) {
		return NULL;
	}
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, info->group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, qlen) == 1 &&
	    (d == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1)) {
		pkey = key_fromdata("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld);
	}
	OSSL_PARAM_BLD_free(bld);
	if (pkey != NULL) {
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* RSA key from bn[] = n, e (public) or n, e, d, p, q, d mod (p-1), d mod (q-1), iqmp (nbn 8).
 * Enforces the modulus size limits and an odd exponent from 3 to 2^32 - 1: everyone uses
 * 65537, and a large one makes each verification cost as much as a private-key operation
 * (OpenSSL refuses exponents over 64 bits only for moduli over 3072 bits). Returns the key or
 * NULL. */
EVP_PKEY *key_rsa_pkey(BIGNUM *const bn[], int nbn)
{
	static const char *const names[] = {
		OSSL_PKEY_PARAM_RSA_N,	       OSSL_PKEY_PARAM_RSA_E,
		OSSL_PKEY_PARAM_RSA_D,	       OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;
	int i, bits = BN_num_bits(bn[0]);

	if (bits < KEY_RSA_MIN_BITS || bits > KEY_RSA_MAX_BITS || !BN_is_odd(bn[0]) ||
	    !BN_is_odd(bn[1]) || BN_is_one(bn[1]) || BN_num_bits(bn[1]) > KEY_RSA_MAX_E_BITS ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL) {
		return NULL;
	}
	for (i = 0; i < nbn; i++) {
		if (OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]) != 1) {
			break;
		}
	}
	if (i == nbn) {
		pkey = key_fromdata("RSA", nbn > 2 ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld);
	}
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* Reads mpint e, mpint n (the RSA public blob fields). Returns the key or NULL. */
static EVP_PKEY *key_read_rsa_public(struct sreader *r)
{
	BIGNUM *bn[2] = {NULL, NULL};
	EVP_PKEY *pkey = NULL;

	bn[1] = key_get_mpint(r, KEY_RSA_MAX_BYTES, false);
	bn[0] = key_get_mpint(r, KEY_RSA_MAX_BYTES, false);
	if (bn[0] != NULL && bn[1] != NULL) {
		pkey = key_rsa_pkey(bn, 2);
	}
	BN_free(bn[0]);
	BN_free(bn[1]);
	return pkey;
}

/* An Ed25519 or X25519 public key from its 32 raw bytes, made through a context from cr: with
 * the per-loop cache that context is made once, where EVP_PKEY_new_raw_public_key() would look
 * the algorithm up again on every call (it showed up in the profile of new sessions). */
EVP_PKEY *key_raw_public(struct ssh_crypto *cr, bool x25519, const uint8_t *p, size_t n)
{
	EVP_PKEY_CTX *fresh;
	EVP_PKEY_CTX *ctx =
		crypto_pkey_ctx(cr, x25519 ? CRYPTO_PKEY_X25519 : CRYPTO_PKEY_ED25519, &fresh);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)p, n);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(fresh);
	return pkey;
}

/* Reads the public fields that follow the type string of a key blob. Returns the key or NULL. */
static EVP_PKEY *key_read_public(struct ssh_crypto *cr, const struct key_info *info,
				 struct sreader *r)
{
	const uint8_t *p, *c;
	size_t n, cn;

	switch (info->type) {
	case SSH_KEY_ED25519:
		p = sreader_string(r, &n);
		if (r->err || n != KEY_ED25519_PK_LEN) {
			return NULL;
		}
		return key_raw_public(cr, false, p, n);
	case SSH_KEY_RSA:
		return key_read_rsa_public(r);
	default:
		c = sreader_string(r, &cn);
		p = sreader_string(r, &n);
		if (r->err || !sreader_string_eq(c, cn, info->curve)) {
			return NULL;
		}
		return key_ec_pkey(info, p, n, NULL);
	}
}

/* The public fields of a key of type t (those after the type string of a blob), read from r
 * as a certificate embeds them; cr as for key_raw_public. Returns the key or NULL. */
struct ssh_key *key_parse_fields(struct ssh_crypto *cr, enum ssh_key_type t, struct sreader *r)
{
	if (t < SSH_KEY_ED25519 || t > SSH_KEY_RSA)
		return NULL;
	return key_new(&key_infos[t - 1], key_read_public(cr, &key_infos[t - 1], r), false);
}

/* Whether k may log in as a client's key (RSA: at least KEY_RSA_MIN_AUTH_BITS). */
bool key_auth_size_ok(const struct ssh_key *k)
{
	return k->info->type != SSH_KEY_RSA || EVP_PKEY_get_bits(k->pkey) >= KEY_RSA_MIN_AUTH_BITS;
}

/* Parses a public key blob from r (trailing bytes are the caller's business); cr as for
 * key_raw_public. */
int key_parse_blob(struct ssh_crypto *cr, struct sreader *r, struct ssh_key **out, char *err,
		   size_t errlen)
{
	const struct key_info *info;
	const uint8_t *t;
	size_t tn;
	char name[48];

	t = sreader_string(r, &tn);
	if (r->err) {
		key_err(err, errlen, "truncated public key");
		return -EINVAL;
	}
	if ((info = key_info_by_name(t, tn)) == NULL) {
		key_sanitize(name, sizeof(name), t, tn);
		key_err(err, errlen, "unsupported key type %s", name);
		return -EINVAL;
	}
	*out = key_new(info, key_read_public(cr, info, r), false);
	if (*out == NULL) {
		key_err(err, errlen, "invalid %s public key", info->name);
		return -EINVAL;
	}
	return 0;
}

/* Public key from a whole blob; cr is the session's cache (key_raw_public) or NULL. */
static int key_from_whole_blob(struct ssh_crypto *cr, const uint8_t *blob, size_t len,
			       struct ssh_key **out)
{
	struct sreader r;
	struct ssh_key *k = NULL;

	sreader_init(&r, blob, len);
	if (key_parse_blob(cr, &r, &k, NULL, 0) != 0 || sreader_left(&r) != 0) {
		ssh_key_free(k);
		ERR_clear_error();
		return -EINVAL;
	}
	*out = k;
	return 0;
}

/* A client's key from its USERAUTH_REQUEST: what every blob must be (key_parse_blob: an odd
 * small RSA exponent, an ECDSA point on its curve, 32 Ed25519 bytes), and an RSA modulus of at
 * least 2048 bits, where OpenSSH (auth2-pubkey.c, RequiredRSASize) refuses below 1024. */
int key_from_blob(struct ssh_crypto *cr, const uint8_t *blob, size_t len, struct ssh_key **out)
{
	struct ssh_key *k = NULL;

	if (key_from_whole_blob(cr, blob, len, &k) != 0)
		return -EINVAL;
	if (!key_auth_size_ok(k)) {
		ssh_key_free(k);
		return -EINVAL;
	}
	*out = k;
	return 0;
}

int ssh_key_from_blob(const uint8_t *blob, size_t len, struct ssh_key **out)
{
	return key_from_whole_blob(NULL, blob, len, out);
}

/* Parses "TYPE BASE64 [comment]". Returns 0 or -EINVAL with a reason in err. */
int ssh_key_parse_public(const char *line, struct ssh_key **out, char *err, size_t errlen)
{
	const char *p = line + strspn(line, " \t");
	size_t tn = strcspn(p, " \t\r\n"), bn;
	const struct key_info *info = key_info_by_name(p, tn);
	uint8_t *blob = NULL;
	size_t bloblen = 0, n;
	struct sreader r;
	const uint8_t *t;
	int ret = -EINVAL;

	if (info == NULL) {
		key_err(err, errlen, "unknown key type");
		return ret;
	}
	p += tn;
	p += strspn(p, " \t");
	bn = strcspn(p, " \t\r\n");
	if (bn == 0 || key_b64_decode(p, bn, false, &blob, &bloblen) != 0) {
		key_err(err, errlen, bn == 0 ? "missing key data" : "bad base64");
		return ret;
	}
	sreader_init(&r, blob, bloblen);
	t = sreader_string(&r, &n);
	if (!sreader_string_eq(t, n, info->name)) {
		key_err(err, errlen, "key type does not match its data");
	} else if (ssh_key_from_blob(blob, bloblen, out) != 0) {
		key_err(err, errlen, "invalid key data");
	} else {
		ret = 0;
	}
	free(blob);
	return ret;
}

enum ssh_key_type ssh_key_type(const struct ssh_key *k)
{
	return k->info->type;
}

const char *ssh_key_type_name(const struct ssh_key *k)
{
	return k->info->name;
}

const uint8_t *ssh_key_blob(const struct ssh_key *k, size_t *len)
{
	*len = k->bloblen;
	return k->blob;
}

bool ssh_key_has_private(const struct ssh_key *k)
{
	return k->has_private;
}

bool ssh_key_equal(const struct ssh_key *a, const struct ssh_key *b)
{
	return a->bloblen == b->bloblen && CRYPTO_memcmp(a->blob, b->blob, a->bloblen) == 0;
}

void key_blob_fingerprint(const uint8_t *blob, size_t len, char out[SSH_KEY_FP_LEN])
{
	uint8_t md[32] = {0};
	unsigned char b64[45];

	EVP_Digest(blob, len, md, NULL, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, md, sizeof(md));
	memcpy(out, "SHA256:", 7);
	memcpy(out + 7, b64, 43); /* ssh-keygen drops the single '=' of padding */
	out[50] = '\0';
}

void ssh_key_fingerprint(const struct ssh_key *k, char out[SSH_KEY_FP_LEN])
{
	key_blob_fingerprint(k->blob, k->bloblen, out);
}

void ssh_key_free(struct ssh_key *k)
{
	if (k == NULL) {
		return;
	}
	EVP_PKEY_free(k->pkey);
	free(k->blob);
	free(k);
}
