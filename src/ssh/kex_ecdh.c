/* Elliptic-curve key exchange, the server side: curve25519-sha256 (RFC 8731) and
 * ecdh-sha2-nistp256/384/521 (RFC 5656 §4), on libcrypto. K is an mpint of the shared
 * secret: the raw 32 bytes for X25519 (RFC 8731 §3), the x coordinate for the NIST curves
 * (RFC 5656 §4, SEC1 §3.3.1). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto.h"
#include "internal.h"
#include "kex_methods.h"

/* The NIST curves' field sizes in bytes: a point is 0x04 || x || y (uncompressed, SEC1
 * §2.3.3), the shared secret is x. */
#define P256_FIELD   32
#define P384_FIELD   48
#define P521_FIELD   66
#define EC_POINT_MAX (1 + 2 * P521_FIELD)

/* Derives the shared secret of ours and peer into out (exactly want bytes). The peer key has
 * been checked by the caller: libcrypto's own check in EVP_PKEY_derive_set_peer would repeat
 * the full public-key check, a scalar multiplication by the group order on the NIST curves. */
static int derive_secret(EVP_PKEY *ours, EVP_PKEY *peer, uint8_t *out, size_t want)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ours, NULL);
	size_t n = want;
	int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
		 EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1 &&
		 EVP_PKEY_derive(ctx, out, &n) == 1 && n == want;

	EVP_PKEY_CTX_free(ctx);
	return ok ? KEX_OK : KEX_ERR_CRYPTO;
}

int kex_x25519(struct ssh_crypto *cr, const uint8_t q_c[32], uint8_t q_s[32], uint8_t secret[32])
{
	EVP_PKEY_CTX *fresh_gen;
	EVP_PKEY_CTX *gen = crypto_pkey_ctx(cr, CRYPTO_PKEY_X25519_KEYGEN, &fresh_gen);
	EVP_PKEY *ours = NULL, *peer = key_raw_public(cr, true, q_c, 32);
	size_t qlen = 32;
	uint8_t any = 0;
	int ret = KEX_ERR_CRYPTO;

	if (gen == NULL || peer == NULL || EVP_PKEY_generate(gen, &ours) != 1 ||
	    EVP_PKEY_get_raw_public_key(ours, q_s, &qlen) != 1 || qlen != 32)
		goto out;
	/* libcrypto refuses an all-zero result itself; either way it is the peer's fault. */
	if (derive_secret(ours, peer, secret, 32) != KEX_OK) {
		ret = KEX_ERR_PEER;
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		any |= secret[i];
	ret = any != 0 ? KEX_OK : KEX_ERR_PEER;
out:
	if (ret != KEX_OK)
		OPENSSL_cleanse(secret, 32);
	EVP_PKEY_CTX_free(fresh_gen);
	EVP_PKEY_free(ours);
	EVP_PKEY_free(peer);
	return ret;
}

int kex_curve25519_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k)
{
	uint8_t q_s[32], secret[32];
	int ret;

	if (len != 32)
		return KEX_ERR_PEER;
	ret = kex_x25519(cr, c_init, q_s, secret);
	if (ret == KEX_OK) {
		sbuf_put(reply, q_s, 32);
		sbuf_put_mpint(k, secret, 32);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	return ret;
}

/* The client's point as a key on group, or NULL when it is not a valid point: libcrypto
 * decodes it (refusing points off the curve) and EVP_PKEY_public_check_quick checks it again
 * (on the curve, not the point at infinity). The full check's multiplication by the order is
 * not needed: the NIST curves have cofactor 1, every point on them is of the group's order. */
static EVP_PKEY *ec_peer(struct ssh_crypto *cr, const char *group, const uint8_t *q, size_t len)
{
	EVP_PKEY_CTX *fresh;
	EVP_PKEY_CTX *ctx = crypto_pkey_ctx(cr, CRYPTO_PKEY_EC, &fresh);
	EVP_PKEY_CTX *check = NULL;
	EVP_PKEY *pk = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)q, len),
		OSSL_PARAM_END,
	};

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (check == NULL || EVP_PKEY_public_check_quick(check) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(fresh);
	return pk;
}

/* RFC 5656 §4 on one curve: Q_C must be an uncompressed point of 1 + 2 field bytes on it. */
static int ecdh_reply(struct ssh_crypto *cr, enum crypto_pkey gen_which, const char *group,
		      size_t field, const uint8_t *c_init, size_t len, struct sbuf *reply,
		      struct sbuf *k)
{
	EVP_PKEY_CTX *fresh_gen;
	EVP_PKEY_CTX *gen = crypto_pkey_ctx(cr, gen_which, &fresh_gen);
	EVP_PKEY *ours = NULL, *peer = NULL;
	uint8_t q_s[EC_POINT_MAX], secret[P521_FIELD];
	size_t qlen = 0;
	int ret = KEX_ERR_PEER;

	if (len != 1 + 2 * field || c_init[0] != 0x04 ||
	    (peer = ec_peer(cr, group, c_init, len)) == NULL)
		goto out;
	ret = KEX_ERR_CRYPTO;
	if (gen == NULL || EVP_PKEY_generate(gen, &ours) != 1 ||
	    EVP_PKEY_get_octet_string_param(ours, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, q_s,
					    sizeof(q_s), &qlen) != 1 ||
	    qlen != 1 + 2 * field || derive_secret(ours, peer, secret, field) != KEX_OK)
		goto out;
	sbuf_put(reply, q_s, qlen);
	sbuf_put_mpint(k, secret, field);
	ret = KEX_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(fresh_gen);
	EVP_PKEY_free(ours);
	EVP_PKEY_free(peer);
	return ret;
}

int kex_nistp256_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len, struct sbuf *reply,
		       struct sbuf *k)
{
	return ecdh_reply(cr, CRYPTO_PKEY_P256_KEYGEN, "P-256", P256_FIELD, c_init, len, reply, k);
}

int kex_nistp384_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len, struct sbuf *reply,
		       struct sbuf *k)
{
	return ecdh_reply(cr, CRYPTO_PKEY_P384_KEYGEN, "P-384", P384_FIELD, c_init, len, reply, k);
}

int kex_nistp521_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len, struct sbuf *reply,
		       struct sbuf *k)
{
	return ecdh_reply(cr, CRYPTO_PKEY_P521_KEYGEN, "P-521", P521_FIELD, c_init, len, reply, k);
}
