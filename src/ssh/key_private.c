/* OpenSSH private keys: "openssh-key-v1" files, unencrypted only (specs/openssh/PROTOCOL.key).
 * A loaded key is checked by signing and verifying a test message with it. */
#include "key.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "../xmalloc.h"
#include "buf.h"
#include "key_internal.h"

/* "openssh-key-v1" and its NUL terminator. */
#define KEY_MAGIC     "openssh-key-v1"
#define KEY_MAGIC_LEN sizeof(KEY_MAGIC)
/* The private section of an unencrypted key is padded to the "none" cipher's block size. */
#define KEY_NONE_BLOCK 8

#define KEY_PEM_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_PEM_END   "-----END OPENSSH PRIVATE KEY-----"

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
	ret = key_parse_blob(NULL, &pr, &pubkey, err, errlen); /* key files: no cache */
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
