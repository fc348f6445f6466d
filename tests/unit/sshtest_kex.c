/* The test client's half of every key exchange method the engine has (sshtest_client.h,
 * "Key exchange methods"): it makes C_INIT, and from the server's S_REPLY it computes K in the
 * method's encoding. Written from the specifications (RFC 8731, RFC 5656, RFC 8268, RFC 9941,
 * draft-ietf-sshm-mlkem-hybrid-kex) apart from src/ssh/kex_*.c; the ML-KEM and sntrup761
 * key generation and decapsulation are the test-only references (mlkem_ref.c, sntrup761_ref.c).
 * Test-only: variable time, secrets kept in plain memory. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "sntrup761_ref.h"
#include "sshtest_client.h"

/* mlkem_ref.c is written to be #included (its functions are static); two of its names are
 * also sntrup761_ref.h's. */
#define ref_keygen mlkem_ref_keygen
#define ref_decaps mlkem_ref_decaps
#include "mlkem_ref.c"
#undef ref_keygen
#undef ref_decaps

enum tc_family { TC_X25519, TC_NIST, TC_DH, TC_MLKEM, TC_SNTRUP };

struct tc_kex {
	enum tc_family family;
	const char *group; /* NIST curve or DH group */
	size_t field;	   /* NIST curves: bytes of x */
	EVP_PKEY *eph;	   /* X25519, EC or DH key */
	uint8_t mlkem_dk[REF_DK];
	uint8_t sntrup_sk[REF_SNTRUP761_SK_SIZE];
};

static const struct {
	const char *name;
	enum tc_family family;
	const char *group;
	size_t field;
	const char *md;
} tc_methods[] = {
	{"curve25519-sha256", TC_X25519, NULL, 0, "SHA256"},
	{"curve25519-sha256@libssh.org", TC_X25519, NULL, 0, "SHA256"},
	{"ecdh-sha2-nistp256", TC_NIST, "P-256", 32, "SHA256"},
	{"ecdh-sha2-nistp384", TC_NIST, "P-384", 48, "SHA384"},
	{"ecdh-sha2-nistp521", TC_NIST, "P-521", 66, "SHA512"},
	{"diffie-hellman-group14-sha256", TC_DH, "modp_2048", 0, "SHA256"},
	{"diffie-hellman-group16-sha512", TC_DH, "modp_4096", 0, "SHA512"},
	{"diffie-hellman-group18-sha512", TC_DH, "modp_8192", 0, "SHA512"},
	{"mlkem768x25519-sha256", TC_MLKEM, NULL, 0, "SHA256"},
	{"sntrup761x25519-sha512", TC_SNTRUP, NULL, 0, "SHA512"},
	{"sntrup761x25519-sha512@openssh.com", TC_SNTRUP, NULL, 0, "SHA512"},
};

static int tc_method_index(const char *name)
{
	for (size_t i = 0; i < sizeof(tc_methods) / sizeof(tc_methods[0]); i++)
		if (strcmp(tc_methods[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool tc_kex_known(const char *name)
{
	return tc_method_index(name) >= 0;
}

const EVP_MD *tc_kex_md(const char *name)
{
	int i = tc_method_index(name);
	const char *md = i < 0 ? "SHA256" : tc_methods[i].md;

	return strcmp(md, "SHA256") == 0   ? EVP_sha256()
	       : strcmp(md, "SHA384") == 0 ? EVP_sha384()
					   : EVP_sha512();
}

void tc_kex_free(struct tc_kex *kx)
{
	if (kx == NULL)
		return;
	EVP_PKEY_free(kx->eph);
	OPENSSL_cleanse(kx, sizeof(*kx));
	free(kx);
}

/* Appends the mpint body (no length field) of an unsigned big-endian number. */
static void tc_put_mpint_body(struct sbuf *b, const uint8_t *p, size_t n)
{
	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n > 0 && (p[0] & 0x80))
		sbuf_put_u8(b, 0);
	sbuf_put(b, p, n);
}

static int tc_x25519_pub(struct tc_kex *kx, struct sbuf *out)
{
	uint8_t q[32];
	size_t n = 32;

	kx->eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (kx->eph == NULL || EVP_PKEY_get_raw_public_key(kx->eph, q, &n) != 1)
		return -1;
	sbuf_put(out, q, 32);
	return 0;
}

static int tc_key_pub(struct tc_kex *kx, struct sbuf *out)
{
	uint8_t buf[1100];
	size_t n = 0;
	BIGNUM *pub = NULL;

	if (kx->family == TC_NIST) {
		kx->eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kx->group);
		if (kx->eph == NULL ||
		    EVP_PKEY_get_octet_string_param(kx->eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
						    buf, sizeof(buf), &n) != 1)
			return -1;
		sbuf_put(out, buf, n);
		return 0;
	}
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	int ok = ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
		 EVP_PKEY_CTX_set_group_name(ctx, kx->group) == 1 &&
		 EVP_PKEY_generate(ctx, &kx->eph) == 1 &&
		 EVP_PKEY_get_bn_param(kx->eph, OSSL_PKEY_PARAM_PUB_KEY, &pub) == 1 &&
		 (n = (size_t)BN_bn2bin(pub, buf)) > 0;
	if (ok)
		tc_put_mpint_body(out, buf, n);
	BN_free(pub);
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

int tc_kex_start(const char *name, struct tc_kex **out, struct sbuf *c_init)
{
	int i = tc_method_index(name);
	struct tc_kex *kx;
	uint8_t seed[64], ek[MLKEM768_EK_BYTES], pk[1158];
	int ret = -1;

	*out = NULL;
	if (i < 0)
		return -1;
	kx = calloc(1, sizeof(*kx));
	kx->family = tc_methods[i].family;
	kx->group = tc_methods[i].group;
	kx->field = tc_methods[i].field;
	switch (kx->family) {
	case TC_X25519:
		ret = tc_x25519_pub(kx, c_init);
		break;
	case TC_NIST:
	case TC_DH:
		ret = tc_key_pub(kx, c_init);
		break;
	case TC_MLKEM:
		ref_init();
		RAND_bytes(seed, sizeof(seed));
		mlkem_ref_keygen(ek, kx->mlkem_dk, seed);
		sbuf_put(c_init, ek, sizeof(ek));
		ret = tc_x25519_pub(kx, c_init);
		break;
	case TC_SNTRUP:
		ref_keygen(pk, kx->sntrup_sk, NULL);
		sbuf_put(c_init, pk, sizeof(pk));
		ret = tc_x25519_pub(kx, c_init);
		break;
	}
	if (ret != 0) {
		tc_kex_free(kx);
		return -1;
	}
	*out = kx;
	return 0;
}

/* The server's public value as a key like ours. */
static EVP_PKEY *tc_peer(struct tc_kex *kx, const uint8_t *q, size_t n)
{
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL;

	if (kx->family == TC_X25519 || kx->family == TC_MLKEM || kx->family == TC_SNTRUP)
		return n == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, q, 32) : NULL;
	EVP_PKEY_CTX *ctx =
		EVP_PKEY_CTX_new_from_name(NULL, kx->family == TC_NIST ? "EC" : "DH", NULL);
	OSSL_PARAM p[3] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)kx->group, 0),
			   OSSL_PARAM_END, OSSL_PARAM_END};
	uint8_t le[1100];
	if (kx->family == TC_NIST) {
		p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)q, n);
	} else if (n <= sizeof(le) && (bn = BN_bin2bn(q, (int)n, NULL)) != NULL &&
		   BN_bn2nativepad(bn, le, (int)n) == (int)n) {
		p[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PUB_KEY, le, n);
	}
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, p) != 1)
		pk = NULL;
	BN_free(bn);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* Our key with the server's public value q: the shared secret into out (*n bytes). */
static int tc_derive_secret(struct tc_kex *kx, const uint8_t *q, size_t qn, uint8_t *out, size_t *n)
{
	EVP_PKEY *peer = tc_peer(kx, q, qn);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(kx->eph, NULL);
	int ok = peer != NULL && ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
		 EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, out, n) == 1;

	EVP_PKEY_free(peer);
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* The hybrids: K = HASH(kem secret || X25519 secret) as a string. */
static int tc_hybrid(struct tc_kex *kx, const uint8_t *s_reply, size_t n, struct sbuf *k)
{
	bool mlkem = kx->family == TC_MLKEM;
	size_t ctlen = mlkem ? MLKEM768_CT_BYTES : 1039, xn = 32;
	uint8_t ss[64], out[64];
	unsigned int outn = 0;

	if (n != ctlen + 32)
		return -1;
	if (mlkem)
		mlkem_ref_decaps(ss, kx->mlkem_dk, s_reply);
	else
		ref_decaps(ss, s_reply, kx->sntrup_sk);
	if (tc_derive_secret(kx, s_reply + ctlen, 32, ss + 32, &xn) != 0 || xn != 32)
		return -1;
	EVP_Digest(ss, 64, out, &outn, mlkem ? EVP_sha256() : EVP_sha512(), NULL);
	sbuf_put_string(k, out, outn);
	OPENSSL_cleanse(ss, sizeof(ss));
	return 0;
}

int tc_kex_finish(struct tc_kex *kx, const uint8_t *s_reply, size_t n, struct sbuf *k)
{
	uint8_t secret[1100];
	size_t slen = sizeof(secret);

	if (kx->family == TC_MLKEM || kx->family == TC_SNTRUP)
		return tc_hybrid(kx, s_reply, n, k);
	if (kx->family == TC_NIST && (n != 1 + 2 * kx->field || s_reply[0] != 4))
		return -1;
	if (kx->family == TC_DH && (n == 0 || (s_reply[0] & 0x80)))
		return -1;
	if (tc_derive_secret(kx, s_reply, n, secret, &slen) != 0)
		return -1;
	tc_put_mpint(k, secret, slen);
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}
