/* Finite-field Diffie-Hellman, the server side (RFC 4253 §8, RFC 8268): groups 14, 16 and
 * 18 of RFC 3526 (libcrypto's named groups modp_2048, modp_4096, modp_8192), generator 2.
 * The client's e and our f travel as mpints and are hashed as such; K is an mpint.
 *
 * Checks on e (RFC 4253 §8: "values not in the range [1, p-1] MUST NOT be sent or accepted";
 * we also refuse 1 and p-1, which give a K anyone knows, as OpenSSH's dh_pub_is_valid does):
 * a well-formed positive mpint, 1 < e < p-1; libcrypto's quick public check then runs on the
 * key (the range again). Like OpenSSH (dh_pub_is_valid) we do not check that e lies in the
 * order-q subgroup: for these safe primes that costs a full-size exponentiation (300 ms for
 * group 18 on the benchmark machine), which a client could ask for on every connection, and
 * would only hide one bit of our ephemeral exponent, used once.
 * Our exponent size is set per group in crypto.c. Off by default: see kex_methods.h. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "crypto.h"
#include "kex_methods.h"

#define DH_MAX_BYTES (8192 / 8)

/* True when p..p+len is a minimal positive mpint body (RFC 4251 §5): no sign bit, and a
 * leading zero byte only where the next byte has its top bit set. Zero (len 0) passes. */
static bool dh_mpint_ok(const uint8_t *p, size_t len)
{
	if (len == 0)
		return true;
	if (p[0] & 0x80)
		return false;
	return p[0] != 0 || (len > 1 && (p[1] & 0x80));
}

/* Appends the mpint body of bn (without the length field). */
static void dh_put_bn(struct sbuf *b, const BIGNUM *bn)
{
	int n = BN_num_bytes(bn);
	uint8_t *p;

	if (n > 0 && BN_num_bits(bn) % 8 == 0)
		sbuf_put_u8(b, 0);
	p = sbuf_append_space(b, (size_t)n);
	BN_bn2bin(bn, p);
}

/* True when 1 < e < p-1. */
static bool dh_e_in_range(const BIGNUM *e, const BIGNUM *p)
{
	BIGNUM *pm1 = BN_dup(p);
	bool ok = pm1 != NULL && BN_sub_word(pm1, 1) == 1 && BN_cmp(e, BN_value_one()) > 0 &&
		  BN_cmp(e, pm1) < 0;

	BN_free(pm1);
	return ok;
}

/* The client's e as a key in group (the domain of ours), or NULL. */
static EVP_PKEY *dh_peer(struct ssh_crypto *cr, const char *group, const BIGNUM *e)
{
	EVP_PKEY_CTX *fresh;
	EVP_PKEY_CTX *ctx = crypto_pkey_ctx(cr, CRYPTO_PKEY_DH, &fresh);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *check = NULL;
	EVP_PKEY *pk = NULL;

	if (ctx == NULL || bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (check == NULL || EVP_PKEY_public_check_quick(check) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(fresh);
	return pk;
}

/* Our key pair in the group, p, and the checked client key. Returns KEX_OK, or KEX_ERR_PEER
 * for a bad e. */
static int dh_keys(struct ssh_crypto *cr, enum crypto_pkey gen_which, const char *group,
		   const BIGNUM *e, EVP_PKEY **ours, EVP_PKEY **peer)
{
	EVP_PKEY_CTX *fresh_gen;
	EVP_PKEY_CTX *gen = crypto_pkey_ctx(cr, gen_which, &fresh_gen);
	BIGNUM *p = NULL;
	int ret = KEX_ERR_CRYPTO;

	if (gen == NULL || EVP_PKEY_generate(gen, ours) != 1 ||
	    EVP_PKEY_get_bn_param(*ours, OSSL_PKEY_PARAM_FFC_P, &p) != 1)
		goto out;
	ret = KEX_ERR_PEER;
	if (!dh_e_in_range(e, p) || (*peer = dh_peer(cr, group, e)) == NULL)
		goto out;
	ret = KEX_OK;
out:
	BN_free(p);
	EVP_PKEY_CTX_free(fresh_gen);
	return ret;
}

static int dh_reply(struct ssh_crypto *cr, enum crypto_pkey gen_which, const char *group,
		    const uint8_t *c_init, size_t len, struct sbuf *reply, struct sbuf *k)
{
	EVP_PKEY *ours = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *e = NULL, *f = NULL;
	uint8_t secret[DH_MAX_BYTES];
	size_t slen = sizeof(secret);
	int ret = KEX_ERR_PEER;

	if (len > DH_MAX_BYTES + 1 || !dh_mpint_ok(c_init, len) ||
	    (e = BN_bin2bn(c_init, (int)len, NULL)) == NULL)
		goto out;
	ret = dh_keys(cr, gen_which, group, e, &ours, &peer);
	if (ret != KEX_OK)
		goto out;
	ret = KEX_ERR_CRYPTO;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ours, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1 ||
	    EVP_PKEY_derive(ctx, secret, &slen) != 1 ||
	    EVP_PKEY_get_bn_param(ours, OSSL_PKEY_PARAM_PUB_KEY, &f) != 1)
		goto out;
	dh_put_bn(reply, f);
	sbuf_put_mpint(k, secret, slen);
	ret = KEX_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(ours);
	EVP_PKEY_free(peer);
	BN_free(e);
	BN_free(f);
	return ret;
}

int kex_dh_group14_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k)
{
	return dh_reply(cr, CRYPTO_PKEY_DH14_KEYGEN, "modp_2048", c_init, len, reply, k);
}

int kex_dh_group16_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k)
{
	return dh_reply(cr, CRYPTO_PKEY_DH16_KEYGEN, "modp_4096", c_init, len, reply, k);
}

int kex_dh_group18_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k)
{
	return dh_reply(cr, CRYPTO_PKEY_DH18_KEYGEN, "modp_8192", c_init, len, reply, k);
}
