/* The per-loop libcrypto cache (struct ssh_crypto in ssh.h, getters in crypto.h). Fetching
 * an algorithm or making a key context takes provider look-ups and lock round trips: done per
 * session, they showed up in the profile of new sessions, so each is made once per loop. The
 * cache is filled lazily and never shrinks; nothing in it is shared between threads. */
#include "crypto.h"

#include <stdbool.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "../xmalloc.h"
#include "ssh.h"

#define CRYPTO_N_CIPHERS (CIPHER_AES192_CTR + 1)
#define CRYPTO_N_MACS	 (CRYPTO_MAC_HMAC + 1)
#define CRYPTO_N_PKEY	 (CRYPTO_PKEY_DH + 1)
#define CRYPTO_N_MDS	 (CRYPTO_MD_SHA512 + 1)

struct ssh_crypto {
	EVP_CIPHER *ciphers[CRYPTO_N_CIPHERS]; /* by enum cipher_id; [CIPHER_NONE] stays NULL */
	EVP_MAC *macs[CRYPTO_N_MACS];
	EVP_MD *mds[CRYPTO_N_MDS];
	EVP_PKEY_CTX *pkey[CRYPTO_N_PKEY];
};

static const char *const crypto_cipher_names[CRYPTO_N_CIPHERS] = {
	NULL, "ChaCha20", "AES-128-GCM", "AES-256-GCM", "AES-128-CTR", "AES-256-CTR", "AES-192-CTR",
};

static const char *const crypto_mac_names[CRYPTO_N_MACS] = {"POLY1305", "HMAC"};
static const char *const crypto_md_names[CRYPTO_N_MDS] = {"SHA256", "SHA384", "SHA512"};

/* By enum crypto_pkey: the libcrypto key type, and for key generation the group and the DH
 * private exponent's size in bits (0: libcrypto's choice). The exponents follow OpenSSH
 * (twice the bits of the largest derived key, at most 1024): RFC 8268 §4 asks for at least
 * twice the group's security strength. */
static const struct {
	const char *type, *group;
	int dh_priv_bits;
} crypto_pkey_params[CRYPTO_N_PKEY] = {
	{"ED25519", NULL, 0},	   {"X25519", NULL, 0},	     {"X25519", NULL, 0},
	{"EC", "P-256", 0},	   {"EC", "P-384", 0},	     {"EC", "P-521", 0},
	{"EC", NULL, 0},	   {"DH", "modp_2048", 512}, {"DH", "modp_4096", 1024},
	{"DH", "modp_8192", 1024}, {"DH", NULL, 0},
};

struct ssh_crypto *ssh_crypto_new(void)
{
	return xcalloc(1, sizeof(struct ssh_crypto));
}

void ssh_crypto_free(struct ssh_crypto *cr)
{
	if (cr == NULL) {
		return;
	}
	for (size_t i = 0; i < CRYPTO_N_CIPHERS; i++) {
		EVP_CIPHER_free(cr->ciphers[i]);
	}
	for (size_t i = 0; i < CRYPTO_N_MACS; i++) {
		EVP_MAC_free(cr->macs[i]);
	}
	for (size_t i = 0; i < CRYPTO_N_MDS; i++) {
		EVP_MD_free(cr->mds[i]);
	}
	for (size_t i = 0; i < CRYPTO_N_PKEY; i++) {
		EVP_PKEY_CTX_free(cr->pkey[i]);
	}
	free(cr);
}

const EVP_CIPHER *crypto_cipher(struct ssh_crypto *cr, enum cipher_id id, EVP_CIPHER **fresh)
{
	EVP_CIPHER **slot;

	*fresh = NULL;
	if (id <= CIPHER_NONE || id >= CRYPTO_N_CIPHERS) {
		return NULL;
	}
	slot = cr != NULL ? &cr->ciphers[id] : fresh;
	if (*slot == NULL) {
		*slot = EVP_CIPHER_fetch(NULL, crypto_cipher_names[id], NULL);
	}
	return *slot;
}

EVP_MAC *crypto_mac(struct ssh_crypto *cr, enum crypto_mac m, EVP_MAC **fresh)
{
	EVP_MAC **slot = cr != NULL ? &cr->macs[m] : fresh;

	*fresh = NULL;
	if (*slot == NULL) {
		*slot = EVP_MAC_fetch(NULL, crypto_mac_names[m], NULL);
	}
	return *slot;
}

const EVP_MD *crypto_md(struct ssh_crypto *cr, enum crypto_md which, EVP_MD **fresh)
{
	EVP_MD **slot;

	*fresh = NULL;
	if (which < CRYPTO_MD_SHA256 || which >= CRYPTO_N_MDS) {
		return NULL;
	}
	slot = cr != NULL ? &cr->mds[which] : fresh;
	if (*slot == NULL) {
		*slot = EVP_MD_fetch(NULL, crypto_md_names[which], NULL);
	}
	return *slot;
}

const EVP_MD *crypto_sha256(struct ssh_crypto *cr, EVP_MD **fresh)
{
	return crypto_md(cr, CRYPTO_MD_SHA256, fresh);
}

static bool crypto_is_keygen(enum crypto_pkey which)
{
	return which == CRYPTO_PKEY_X25519_KEYGEN ||
	       (which >= CRYPTO_PKEY_P256_KEYGEN && which <= CRYPTO_PKEY_P521_KEYGEN) ||
	       (which >= CRYPTO_PKEY_DH14_KEYGEN && which <= CRYPTO_PKEY_DH18_KEYGEN);
}

static int crypto_set_priv_len(EVP_PKEY_CTX *ctx, int bits)
{
	OSSL_PARAM p[] = {OSSL_PARAM_int(OSSL_PKEY_PARAM_DH_PRIV_LEN, &bits), OSSL_PARAM_END};

	return EVP_PKEY_CTX_set_params(ctx, p);
}

/* Makes the context for `which`; a keygen one is initialised for key generation in its group.
 * Returns it or NULL. */
static EVP_PKEY_CTX *crypto_make_pkey_ctx(enum crypto_pkey which)
{
	const char *group = crypto_pkey_params[which].group;
	int bits = crypto_pkey_params[which].dh_priv_bits;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, crypto_pkey_params[which].type, NULL);

	if (ctx == NULL || !crypto_is_keygen(which)) {
		return ctx;
	}
	if (EVP_PKEY_keygen_init(ctx) != 1 ||
	    (group != NULL && EVP_PKEY_CTX_set_group_name(ctx, group) != 1) ||
	    (bits != 0 && crypto_set_priv_len(ctx, bits) != 1)) {
		EVP_PKEY_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

EVP_PKEY_CTX *crypto_pkey_ctx(struct ssh_crypto *cr, enum crypto_pkey which, EVP_PKEY_CTX **fresh)
{
	EVP_PKEY_CTX **slot;

	*fresh = NULL;
	if (which < CRYPTO_PKEY_ED25519 || which >= CRYPTO_N_PKEY) {
		return NULL;
	}
	slot = cr != NULL ? &cr->pkey[which] : fresh;
	if (*slot == NULL) {
		*slot = crypto_make_pkey_ctx(which);
	}
	return *slot;
}
