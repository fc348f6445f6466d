/* Signatures in SSH wire format (string alg, string sigbytes): ssh-ed25519 (RFC 8709),
 * ecdsa-sha2-* (RFC 5656; sigbytes are mpint r, mpint s) and rsa-sha2-256/512 (RFC 8332). SHA-1
 * "ssh-rsa" signatures are never produced nor accepted. */
#include "key.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "../xmalloc.h"
#include "buf.h"
#include "key_internal.h"

/* The default signature algorithm of k: rsa-sha2-512 for RSA, the type name otherwise. */
const char *key_default_alg(const struct ssh_key *k)
{
	return k->info->type == SSH_KEY_RSA ? "rsa-sha2-512" : k->info->name;
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
