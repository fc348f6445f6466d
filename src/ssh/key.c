/* SSH keys on OpenSSL 3 EVP_PKEY (non-deprecated APIs only).
 *
 * Wire formats: RFC 4253 §6.6 and RFC 8332 (ssh-rsa keys, rsa-sha2-256/512 signatures; SHA-1
 * "ssh-rsa" signatures are never produced nor accepted), RFC 5656 (ecdsa-sha2-nistp256/384/521),
 * RFC 8709 (ssh-ed25519). Private keys: OpenSSH "openssh-key-v1" files, unencrypted only
 * (specs/openssh/PROTOCOL.key).
 *
 * RSA moduli from 1024 to 16384 bits are accepted: 1024 is OpenSSH's own minimum
 * (SSH_RSA_MINIMUM_MODULUS_SIZE), so any key OpenSSH still uses loads here. */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "../xmalloc.h"
#include "buf.h"
#include "internal.h"

#define KEY_RSA_MIN_BITS  1024
#define KEY_RSA_MAX_BITS  16384
#define KEY_RSA_MAX_BYTES (KEY_RSA_MAX_BITS / 8)
/* The largest RSA private key file (16384 bits) is about 12 KiB of text. */
#define KEY_FILE_MAX	    (64 * 1024)
#define KEY_ED25519_PK_LEN  32
#define KEY_ED25519_SK_LEN  64
#define KEY_ED25519_SIG_LEN 64
/* "openssh-key-v1" and its NUL terminator. */
#define KEY_MAGIC     "openssh-key-v1"
#define KEY_MAGIC_LEN sizeof(KEY_MAGIC)
/* The private section of an unencrypted key is padded to the "none" cipher's block size. */
#define KEY_NONE_BLOCK 8

#define KEY_PEM_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_PEM_END   "-----END OPENSSH PRIVATE KEY-----"

struct key_info {
	enum ssh_key_type type;
	const char *name;  /* wire name of the key type */
	const char *curve; /* ECDSA: curve name in the blob */
	const char *group; /* ECDSA: OpenSSL group name */
	const char *md;	   /* ECDSA: signature digest */
	size_t field_len;  /* ECDSA: bytes per coordinate */
};

static const struct key_info key_infos[] = {
	{SSH_KEY_ED25519, "ssh-ed25519", NULL, NULL, NULL, 0},
	{SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256", "nistp256", "P-256", "SHA256", 32},
	{SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384", "nistp384", "P-384", "SHA384", 48},
	{SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521", "nistp521", "P-521", "SHA512", 66},
	{SSH_KEY_RSA, "ssh-rsa", NULL, NULL, NULL, 0},
};

struct ssh_key {
	const struct key_info *info;
	EVP_PKEY *pkey;
	bool has_private;
	uint8_t *blob; /* canonical public blob, built from pkey at creation */
	size_t bloblen;
};

/* Writes a one-line reason into err (which may be NULL). */
static void __attribute__((format(printf, 3, 4)))
key_err(char *err, size_t errlen, const char *fmt, ...)
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
static int key_b64_decode(const char *s, size_t n, bool allow_ws, uint8_t **out, size_t *outlen)
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
static void key_put_bn(struct sbuf *b, const BIGNUM *bn)
{
	size_t n = (size_t)BN_num_bytes(bn);
	uint8_t *tmp = xmalloc(n);

	BN_bn2bin(bn, tmp);
	sbuf_put_mpint(b, tmp, n);
	freezero(tmp, n);
}

/* Reads an SSH mpint as a non-negative BIGNUM of at most maxbytes significant bytes (secret ones
 * in OpenSSL's secure heap). Returns a new BIGNUM the caller frees with BN_clear_free, or NULL. */
static BIGNUM *key_get_mpint(struct sreader *r, size_t maxbytes, bool secret)
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
static struct ssh_key *key_new(const struct key_info *info, EVP_PKEY *pkey, bool priv)
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
static EVP_PKEY *key_ec_pkey(const struct key_info *info, const uint8_t *q, size_t qlen,
			     const BIGNUM *d)
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
 * Enforces the modulus size limits and an odd exponent > 1. Returns the key or NULL. */
static EVP_PKEY *key_rsa_pkey(BIGNUM *const bn[], int nbn)
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
	    !BN_is_odd(bn[1]) || BN_is_one(bn[1]) || (bld = OSSL_PARAM_BLD_new()) == NULL) {
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

/* An Ed25519 or X25519 public key from its 32 raw bytes. The algorithm's context is made
 * once: EVP_PKEY_new_raw_public_key() looks the algorithm up again on every call, which showed
 * up in the profile of new sessions. Single-threaded use only (the engine's loop). */
EVP_PKEY *key_raw_public(bool x25519, const uint8_t *p, size_t n)
{
	static EVP_PKEY_CTX *ctx[2];
	EVP_PKEY_CTX **slot = &ctx[x25519 ? 1 : 0];
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[2];

	if (*slot == NULL)
		*slot = EVP_PKEY_CTX_new_from_name(NULL, x25519 ? "X25519" : "ED25519", NULL);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)p, n);
	params[1] = OSSL_PARAM_construct_end();
	if (*slot == NULL || EVP_PKEY_fromdata_init(*slot) != 1 ||
	    EVP_PKEY_fromdata(*slot, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		return NULL;
	return pkey;
}

/* Reads the public fields that follow the type string of a key blob. Returns the key or NULL. */
static EVP_PKEY *key_read_public(const struct key_info *info, struct sreader *r)
{
	const uint8_t *p, *c;
	size_t n, cn;

	switch (info->type) {
	case SSH_KEY_ED25519:
		p = sreader_string(r, &n);
		if (r->err || n != KEY_ED25519_PK_LEN) {
			return NULL;
		}
		return key_raw_public(false, p, n);
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

/* Parses a public key blob from r (trailing bytes are the caller's business). */
static int key_parse_blob(struct sreader *r, struct ssh_key **out, char *err, size_t errlen)
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
	*out = key_new(info, key_read_public(info, r), false);
	if (*out == NULL) {
		key_err(err, errlen, "invalid %s public key", info->name);
		return -EINVAL;
	}
	return 0;
}

int ssh_key_from_blob(const uint8_t *blob, size_t len, struct ssh_key **out)
{
	struct sreader r;
	struct ssh_key *k = NULL;

	sreader_init(&r, blob, len);
	if (key_parse_blob(&r, &k, NULL, 0) != 0 || sreader_left(&r) != 0) {
		ssh_key_free(k);
		ERR_clear_error();
		return -EINVAL;
	}
	*out = k;
	return 0;
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

/* Reads the ed25519 private fields: string pk, string sk (seed || pk). */
static EVP_PKEY *key_read_ed25519_private(struct sreader *r)
{
	size_t pn, sn;
	const uint8_t *pk = sreader_string(r, &pn);
	const uint8_t *sk = sreader_string(r, &sn);

	if (r->err || pn != KEY_ED25519_PK_LEN || sn != KEY_ED25519_SK_LEN ||
	    CRYPTO_memcmp(sk + 32, pk, KEY_ED25519_PK_LEN) != 0) {
		return NULL;
	}
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
}

/* Reads the ECDSA private fields: string curve, string Q, mpint d. */
static EVP_PKEY *key_read_ecdsa_private(const struct key_info *info, struct sreader *r)
{
	size_t cn, qn;
	const uint8_t *c = sreader_string(r, &cn);
	const uint8_t *q = sreader_string(r, &qn);
	BIGNUM *d = key_get_mpint(r, info->field_len, true);
	EVP_PKEY *pkey = NULL;

	if (d != NULL && sreader_string_eq(c, cn, info->curve) && !BN_is_zero(d)) {
		pkey = key_ec_pkey(info, q, qn, d);
	}
	BN_clear_free(d);
	return pkey;
}

/* Fills bn[5] = d mod (p-1) and bn[6] = d mod (q-1), which the file doesn't carry.
 * bn[] as for key_rsa_pkey. Returns 0 or -1. */
static int key_rsa_crt(BIGNUM *bn[])
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *aux = BN_secure_new();
	int ok;

	bn[5] = BN_secure_new();
	bn[6] = BN_secure_new();
	BN_set_flags(bn[2], BN_FLG_CONSTTIME);
	ok = ctx != NULL && aux != NULL && bn[5] != NULL && bn[6] != NULL &&
	     BN_sub(aux, bn[3], BN_value_one()) && BN_mod(bn[5], bn[2], aux, ctx) &&
	     BN_sub(aux, bn[4], BN_value_one()) && BN_mod(bn[6], bn[2], aux, ctx);
	BN_clear_free(aux);
	BN_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Reads the RSA private fields: mpint n, e, d, iqmp, p, q. */
static EVP_PKEY *key_read_rsa_private(struct sreader *r)
{
	/* File order mapped onto key_rsa_pkey's order. */
	static const int slot[6] = {0, 1, 2, 7, 3, 4};
	BIGNUM *bn[8] = {NULL};
	EVP_PKEY *pkey = NULL;
	int i;

	for (i = 0; i < 6; i++) {
		bn[slot[i]] = key_get_mpint(r, KEY_RSA_MAX_BYTES, i >= 2);
		if (bn[slot[i]] == NULL) {
			break;
		}
	}
	if (i == 6 && key_rsa_crt(bn) == 0) {
		pkey = key_rsa_pkey(bn, 8);
	}
	for (i = 0; i < 8; i++) {
		BN_clear_free(bn[i]);
	}
	return pkey;
}

static EVP_PKEY *key_read_private(const struct key_info *info, struct sreader *r)
{
	switch (info->type) {
	case SSH_KEY_ED25519:
		return key_read_ed25519_private(r);
	case SSH_KEY_RSA:
		return key_read_rsa_private(r);
	default:
		return key_read_ecdsa_private(info, r);
	}
}

/* The default signature algorithm of k: rsa-sha2-512 for RSA, the type name otherwise. */
static const char *key_default_alg(const struct ssh_key *k)
{
	return k->info->type == SSH_KEY_RSA ? "rsa-sha2-512" : k->info->name;
}

/* Signs a fixed message and verifies it: proves the private half matches the public blob. */
static int key_self_test(const struct ssh_key *k)
{
	static const uint8_t msg[] = "alknet key self-test";
	const char *alg = key_default_alg(k);
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int ret;

	ret = ssh_key_sign(k, alg, msg, sizeof(msg), &sig, &siglen);
	if (ret == 0) {
		ret = ssh_key_verify(k, alg, strlen(alg), sig, siglen, msg, sizeof(msg));
	}
	free(sig);
	return ret;
}

/* Checks the trailing padding 1, 2, 3, ... of the private section. */
static bool key_padding_ok(struct sreader *r)
{
	uint8_t want = 1;

	while (sreader_left(r) > 0) {
		if (sreader_u8(r) != want++) {
			return false;
		}
	}
	return true;
}

/* Parses the (unencrypted) private section for the key whose public half is pub.
 * Returns 0 and the private key in *out, or -EINVAL with a reason. */
static int key_parse_private_section(const uint8_t *p, size_t n, const struct ssh_key *pub,
				     struct ssh_key **out, char *err, size_t errlen)
{
	struct sreader r;
	struct ssh_key *k = NULL;
	const uint8_t *t;
	size_t tn, cn;
	uint32_t check1, check2;

	sreader_init(&r, p, n);
	check1 = sreader_u32(&r);
	check2 = sreader_u32(&r);
	t = sreader_string(&r, &tn);
	if (r.err || n % KEY_NONE_BLOCK != 0 || check1 != check2) {
		key_err(err, errlen, "corrupt private key (bad length or check bytes)");
		return -EINVAL;
	}
	if (!sreader_string_eq(t, tn, pub->info->name)) {
		key_err(err, errlen, "private key type does not match the public key");
		return -EINVAL;
	}
	k = key_new(pub->info, key_read_private(pub->info, &r), true);
	sreader_string(&r, &cn); /* comment */
	if (k == NULL || r.err || !key_padding_ok(&r)) {
		key_err(err, errlen, "corrupt %s private key", pub->info->name);
		ssh_key_free(k);
		return -EINVAL;
	}
	if (!ssh_key_equal(k, pub) || key_self_test(k) != 0) {
		key_err(err, errlen, "public and private parts of the key do not match");
		ssh_key_free(k);
		return -EINVAL;
	}
	*out = k;
	return 0;
}

/* Parses the decoded openssh-key-v1 container. */
static int key_parse_container(const uint8_t *d, size_t n, struct ssh_key **out, char *err,
			       size_t errlen)
{
	struct sreader r, pr;
	const uint8_t *magic, *cipher, *kdf, *pub, *priv;
	size_t cn, kn, pn, sn;
	uint32_t nkeys;
	struct ssh_key *pubkey = NULL;
	int ret;

	sreader_init(&r, d, n);
	magic = sreader_bytes(&r, KEY_MAGIC_LEN);
	if (magic == NULL || memcmp(magic, KEY_MAGIC, KEY_MAGIC_LEN) != 0) {
		key_err(err, errlen, "not an openssh-key-v1 private key");
		return -EINVAL;
	}
	cipher = sreader_string(&r, &cn);
	kdf = sreader_string(&r, &kn);
	sreader_string(&r, &pn); /* kdf options */
	nkeys = sreader_u32(&r);
	if (r.err) {
		key_err(err, errlen, "truncated private key");
		return -EINVAL;
	}
	if (!sreader_string_eq(cipher, cn, "none") || !sreader_string_eq(kdf, kn, "none")) {
		key_err(err, errlen,
			"key is encrypted (passphrase); alknet needs an unencrypted key");
		return -EINVAL;
	}
	if (nkeys != 1) {
		key_err(err, errlen, "key file holds %u keys; alknet needs exactly one", nkeys);
		return -EINVAL;
	}
	pub = sreader_string(&r, &pn);
	priv = sreader_string(&r, &sn);
	if (r.err || sreader_left(&r) != 0) {
		key_err(err, errlen,
			r.err ? "truncated private key" : "trailing data after the key");
		return -EINVAL;
	}
	sreader_init(&pr, pub, pn);
	ret = key_parse_blob(&pr, &pubkey, err, errlen);
	if (ret == 0 && sreader_left(&pr) != 0) {
		key_err(err, errlen, "trailing data after the public key");
		ret = -EINVAL;
	}
	if (ret == 0) {
		ret = key_parse_private_section(priv, sn, pubkey, out, err, errlen);
	}
	ssh_key_free(pubkey);
	return ret;
}

/* True if text (after leading whitespace) looks like a public key: "TYPE BASE64..." or an
 * RFC 4716 "---- BEGIN SSH2 PUBLIC KEY ----" block. */
static bool key_looks_public(const char *text, size_t len)
{
	static const char *const prefixes[] = {"ssh-", "ecdsa-", "sk-", "---- BEGIN SSH2"};
	size_t i = 0;

	while (i < len && memchr(" \t\r\n", text[i], 4) != NULL) {
		i++;
	}
	for (size_t j = 0; j < sizeof(prefixes) / sizeof(prefixes[0]); j++) {
		size_t pl = strlen(prefixes[j]);
		if (len - i >= pl && memcmp(text + i, prefixes[j], pl) == 0) {
			return true;
		}
	}
	return false;
}

/* Finds the OpenSSH armour in text and sets *body to the base64 between it. Explains PEM
 * keys, public keys and anything else in err. Returns 0 or -EINVAL. */
static int key_find_body(const char *text, size_t len, const char **body, size_t *bodylen,
			 char *err, size_t errlen)
{
	const char *b = memmem(text, len, KEY_PEM_BEGIN, strlen(KEY_PEM_BEGIN));
	const char *e;

	if (b == NULL) {
		if (memmem(text, len, "-----BEGIN ", 11) != NULL &&
		    memmem(text, len, "PRIVATE KEY-----", 16) != NULL) {
			key_err(err, errlen,
				"PEM keys are not supported; convert with ssh-keygen -p -f KEY");
		} else if (key_looks_public(text, len)) {
			key_err(err, errlen, "this is a public key; pass the private key file");
		} else {
			key_err(err, errlen, "file is not a private key");
		}
		return -EINVAL;
	}
	b += strlen(KEY_PEM_BEGIN);
	e = memmem(b, len - (size_t)(b - text), KEY_PEM_END, strlen(KEY_PEM_END));
	if (e == NULL) {
		key_err(err, errlen, "truncated private key (no END line)");
		return -EINVAL;
	}
	*body = b;
	*bodylen = (size_t)(e - b);
	return 0;
}

int ssh_key_parse_private(const char *text, size_t len, struct ssh_key **out, char *err,
			  size_t errlen)
{
	const char *body;
	size_t bodylen, dlen = 0;
	uint8_t *d = NULL;
	int ret;

	ret = key_find_body(text, len, &body, &bodylen, err, errlen);
	if (ret == 0 && key_b64_decode(body, bodylen, true, &d, &dlen) != 0) {
		key_err(err, errlen, "bad base64 in private key");
		ret = -EINVAL;
	}
	if (ret == 0) {
		ret = key_parse_container(d, dlen, out, err, errlen);
	}
	freezero(d, dlen);
	ERR_clear_error();
	return ret;
}

/* Reads at most KEY_FILE_MAX bytes of path into buf (KEY_FILE_MAX + 1 bytes). Returns the
 * length, or -errno (-EFBIG when the file is larger). */
static ssize_t key_read_file(const char *path, char *buf)
{
	size_t len = 0;
	ssize_t n = 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		return -errno;
	}
	while (n != 0 && len <= KEY_FILE_MAX) {
		n = read(fd, buf + len, KEY_FILE_MAX + 1 - len);
		if (n == -1 && errno != EINTR) {
			n = -errno;
			close(fd);
			return n;
		}
		len += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	return len > KEY_FILE_MAX ? -EFBIG : (ssize_t)len;
}

/* Reads and parses a private key file. Returns 0, -errno when unreadable, or -EINVAL. */
int ssh_key_load_private(const char *path, struct ssh_key **out, char *err, size_t errlen)
{
	char *buf = xmalloc(KEY_FILE_MAX + 1);
	ssize_t n = key_read_file(path, buf);
	int ret;

	if (n < 0) {
		key_err(err, errlen, "cannot read key file: %s",
			n == -EFBIG ? "file too large for a key" : strerror((int)-n));
		ret = (int)n;
	} else {
		ret = ssh_key_parse_private(buf, (size_t)n, out, err, errlen);
	}
	freezero(buf, KEY_FILE_MAX + 1);
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

void ssh_key_fingerprint(const struct ssh_key *k, char out[SSH_KEY_FP_LEN])
{
	uint8_t md[32] = {0};
	unsigned char b64[45];

	EVP_Digest(k->blob, k->bloblen, md, NULL, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, md, sizeof(md));
	memcpy(out, "SHA256:", 7);
	memcpy(out + 7, b64, 43); /* ssh-keygen drops the single '=' of padding */
	out[50] = '\0';
}

bool ssh_key_alg_ok(const struct ssh_key *k, const char *alg, size_t alglen)
{
	if (k->info->type == SSH_KEY_RSA) {
		return sreader_string_eq((const uint8_t *)alg, alglen, "rsa-sha2-512") ||
		       sreader_string_eq((const uint8_t *)alg, alglen, "rsa-sha2-256");
	}
	return sreader_string_eq((const uint8_t *)alg, alglen, k->info->name);
}

/* Digest name for signatures with alg on k (already checked by ssh_key_alg_ok); NULL for
 * ed25519, which hashes internally. */
static const char *key_alg_md(const struct ssh_key *k, const char *alg, size_t alglen)
{
	if (k->info->type == SSH_KEY_RSA) {
		return sreader_string_eq((const uint8_t *)alg, alglen, "rsa-sha2-256") ? "SHA256"
										       : "SHA512";
	}
	return k->info->md;
}

/* One-shot EVP_DigestSign. *raw is xmalloc'd. Returns 0 or -1. */
static int key_digest_sign(EVP_PKEY *pkey, const char *md, const uint8_t *data, size_t len,
			   uint8_t **raw, size_t *rawlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 0;
	int ret = -1;

	*raw = NULL;
	if (ctx != NULL && EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
	    EVP_DigestSign(ctx, NULL, &n, data, len) == 1) {
		*raw = xmalloc(n);
		if (EVP_DigestSign(ctx, *raw, &n, data, len) == 1) {
			*rawlen = n;
			ret = 0;
		}
	}
	EVP_MD_CTX_free(ctx);
	if (ret != 0) {
		free(*raw);
		*raw = NULL;
		ERR_clear_error();
	}
	return ret;
}

/* Converts OpenSSL's DER ECDSA signature into SSH's string (mpint r, mpint s). */
static int key_put_ecdsa_sig(struct sbuf *b, const uint8_t *der, size_t derlen)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	const BIGNUM *r, *s;
	struct sbuf inner = {0};

	if (es == NULL) {
		return -1;
	}
	ECDSA_SIG_get0(es, &r, &s);
	key_put_bn(&inner, r);
	key_put_bn(&inner, s);
	sbuf_put_string(b, inner.data, inner.len);
	sbuf_free(&inner);
	ECDSA_SIG_free(es);
	return 0;
}

int ssh_key_sign(const struct ssh_key *k, const char *alg, const uint8_t *data, size_t len,
		 uint8_t **sig, size_t *siglen)
{
	struct sbuf b = {0};
	uint8_t *raw = NULL;
	size_t rawlen = 0, alglen;
	int ret = 0;

	alg = alg ? alg : key_default_alg(k);
	alglen = strlen(alg);
	if (!k->has_private || !ssh_key_alg_ok(k, alg, alglen) ||
	    key_digest_sign(k->pkey, key_alg_md(k, alg, alglen), data, len, &raw, &rawlen) != 0) {
		return -1;
	}
	sbuf_put_cstring(&b, alg);
	if (k->info->curve != NULL) {
		ret = key_put_ecdsa_sig(&b, raw, rawlen);
	} else {
		sbuf_put_string(&b, raw, rawlen);
	}
	free(raw);
	if (ret != 0) {
		sbuf_free(&b);
		return -1;
	}
	*sig = b.data;
	*siglen = b.len;
	return 0;
}

/* One-shot EVP_DigestVerify. Returns 0 if the signature is valid, -1 otherwise. */
static int key_digest_verify(EVP_PKEY *pkey, const char *md, const uint8_t *sig, size_t siglen,
			     const uint8_t *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL &&
		 EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
		 EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;

	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
	}
	return ok ? 0 : -1;
}

/* Verifies SSH's (mpint r, mpint s) by converting it to DER for OpenSSL. */
static int key_verify_ecdsa(const struct ssh_key *k, const uint8_t *s, size_t sn,
			    const uint8_t *data, size_t len)
{
	struct sreader r;
	BIGNUM *br, *bs;
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *der = NULL;
	int derlen = -1, ret = -1;

	sreader_init(&r, s, sn);
	br = key_get_mpint(&r, k->info->field_len, false);
	bs = key_get_mpint(&r, k->info->field_len, false);
	if (es != NULL && br != NULL && bs != NULL && sreader_left(&r) == 0 &&
	    ECDSA_SIG_set0(es, br, bs) == 1) {
		br = bs = NULL; /* es owns them */
		derlen = i2d_ECDSA_SIG(es, &der);
	}
	if (derlen > 0) {
		ret = key_digest_verify(k->pkey, k->info->md, der, (size_t)derlen, data, len);
	}
	OPENSSL_free(der);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return ret;
}

/* Verifies a PKCS#1 v1.5 signature; OpenSSH accepts one shorter than the modulus (leading
 * zero bytes dropped by some signers) and so do we, by padding it back. */
static int key_verify_rsa(const struct ssh_key *k, const char *md, const uint8_t *s, size_t sn,
			  const uint8_t *data, size_t len)
{
	size_t m = (size_t)EVP_PKEY_get_size(k->pkey);
	uint8_t *padded;
	int ret;

	if (sn == 0 || sn > m) {
		return -1;
	}
	padded = xcalloc(1, m);
	memcpy(padded + (m - sn), s, sn);
	ret = key_digest_verify(k->pkey, md, padded, m, data, len);
	free(padded);
	return ret;
}

int ssh_key_verify(const struct ssh_key *k, const char *alg, size_t alglen, const uint8_t *sig,
		   size_t siglen, const uint8_t *data, size_t len)
{
	struct sreader r;
	const uint8_t *a, *s;
	size_t an, sn;

	sreader_init(&r, sig, siglen);
	a = sreader_string(&r, &an);
	s = sreader_string(&r, &sn);
	if (r.err || sreader_left(&r) != 0 || an != alglen || memcmp(a, alg, an) != 0 ||
	    !ssh_key_alg_ok(k, alg, alglen)) {
		return -1;
	}
	switch (k->info->type) {
	case SSH_KEY_ED25519:
		if (sn != KEY_ED25519_SIG_LEN) {
			return -1;
		}
		return key_digest_verify(k->pkey, NULL, s, sn, data, len);
	case SSH_KEY_RSA:
		return key_verify_rsa(k, key_alg_md(k, alg, alglen), s, sn, data, len);
	default:
		return key_verify_ecdsa(k, s, sn, data, len);
	}
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
