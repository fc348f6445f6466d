/* The per-loop libcrypto cache (struct ssh_crypto in ssh.h, getters in crypto.h). Fetching
 * an algorithm or making a key context takes provider look-ups and lock round trips: done per
 * session, they showed up in the profile of new sessions, so each is made once per loop. The
 * cache is filled lazily and never shrinks; nothing in it is shared between threads. */
#include "crypto.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "../xmalloc.h"
#include "ssh.h"

#define CRYPTO_N_CIPHERS (CIPHER_AES192_CTR + 1)
#define CRYPTO_N_MACS	 (CRYPTO_MAC_HMAC + 1)
#define CRYPTO_N_PKEY	 (CRYPTO_PKEY_X25519_KEYGEN + 1)

struct ssh_crypto {
	EVP_CIPHER *ciphers[CRYPTO_N_CIPHERS]; /* by enum cipher_id; [CIPHER_NONE] stays NULL */
	EVP_MAC *macs[CRYPTO_N_MACS];
	EVP_MD *sha256;
	EVP_PKEY_CTX *pkey[CRYPTO_N_PKEY];
};

static const char *const crypto_cipher_names[CRYPTO_N_CIPHERS] = {
	NULL, "ChaCha20", "AES-128-GCM", "AES-256-GCM", "AES-128-CTR", "AES-256-CTR", "AES-192-CTR",
};

static const char *const crypto_mac_names[CRYPTO_N_MACS] = {"POLY1305", "HMAC"};

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
	EVP_MD_free(cr->sha256);
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

const EVP_MD *crypto_sha256(struct ssh_crypto *cr, EVP_MD **fresh)
{
	EVP_MD **slot = cr != NULL ? &cr->sha256 : fresh;

	*fresh = NULL;
	if (*slot == NULL) {
		*slot = EVP_MD_fetch(NULL, "SHA256", NULL);
	}
	return *slot;
}

/* Makes the context for `which`; the keygen one is initialised for X25519 key generation.
 * Returns it or NULL. */
static EVP_PKEY_CTX *crypto_make_pkey_ctx(enum crypto_pkey which)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(
		NULL, which == CRYPTO_PKEY_ED25519 ? "ED25519" : "X25519", NULL);

	if (ctx != NULL && which == CRYPTO_PKEY_X25519_KEYGEN && EVP_PKEY_keygen_init(ctx) != 1) {
		EVP_PKEY_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

EVP_PKEY_CTX *crypto_pkey_ctx(struct ssh_crypto *cr, enum crypto_pkey which, EVP_PKEY_CTX **fresh)
{
	EVP_PKEY_CTX **slot = cr != NULL ? &cr->pkey[which] : fresh;

	*fresh = NULL;
	if (*slot == NULL) {
		*slot = crypto_make_pkey_ctx(which);
	}
	return *slot;
}
