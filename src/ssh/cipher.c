#include "cipher.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "../xmalloc.h"
#include "buf.h"
#include "crypto.h"

struct pkt_cipher {
	const struct cipher_info *ci;
	const struct mac_info *mi;
	EVP_CIPHER_CTX *ctx; /* chacha20 main key, AES-GCM or AES-CTR */
	EVP_CIPHER_CTX *hdr; /* chacha20 header key (length field) */
	EVP_MAC_CTX *mac;    /* Poly1305 or HMAC */
	uint8_t iv[12];	     /* AES-GCM: 4-byte fixed part + 8-byte invocation counter */
	bool encrypt;
};

static const struct cipher_info ciphers[] = {
	{"chacha20-poly1305@openssh.com", CIPHER_CHACHAPOLY, 64, 0, 8, 16},
	{"aes128-gcm@openssh.com", CIPHER_AES128_GCM, 16, 12, 16, 16},
	{"aes256-gcm@openssh.com", CIPHER_AES256_GCM, 32, 12, 16, 16},
	{"aes128-ctr", CIPHER_AES128_CTR, 16, 16, 16, 0},
	{"aes192-ctr", CIPHER_AES192_CTR, 24, 16, 16, 0},
	{"aes256-ctr", CIPHER_AES256_CTR, 32, 16, 16, 0},
};

/* RFC 6668 §2: hmac-sha2-256/512 keys are as long as their digests. */
static const struct mac_info macs[] = {
	{"hmac-sha2-256-etm@openssh.com", MAC_HMAC_SHA256_ETM, 32, 32, true},
	{"hmac-sha2-512-etm@openssh.com", MAC_HMAC_SHA512_ETM, 64, 64, true},
	{"hmac-sha2-256", MAC_HMAC_SHA256, 32, 32, false},
	{"hmac-sha2-512", MAC_HMAC_SHA512, 64, 64, false},
};

const struct cipher_info *cipher_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		if (strlen(ciphers[i].name) == len && memcmp(ciphers[i].name, name, len) == 0)
			return &ciphers[i];
	}
	return NULL;
}

const struct mac_info *mac_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		if (strlen(macs[i].name) == len && memcmp(macs[i].name, name, len) == 0)
			return &macs[i];
	}
	return NULL;
}

#define CIPHER_LIST                                                                                \
	"chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,"             \
	"aes128-ctr,aes192-ctr,aes256-ctr"
#define MAC_ETM_LIST "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com"

const char *cipher_default_list(void)
{
	return CIPHER_LIST;
}

const char *cipher_supported_list(void)
{
	return CIPHER_LIST;
}

/* The non-ETM pair (RFC 6668) comes last, as in OpenSSH's default: Java, embedded and older
 * library clients have nothing else (ssh-audit warns about encrypt-and-MAC; tests/e2e/
 * test_interop.py lists that warning as the price of letting them in). */
const char *mac_default_list(void)
{
	return MAC_ETM_LIST ",hmac-sha2-256,hmac-sha2-512";
}

const char *mac_supported_list(void)
{
	return MAC_ETM_LIST ",hmac-sha2-256,hmac-sha2-512";
}

/* chacha20-poly1305: two ChaCha20 contexts (payload, length) and a Poly1305 MAC context. */
static int setup_chachapoly(struct pkt_cipher *c, struct ssh_crypto *cr, const EVP_CIPHER *chacha,
			    const uint8_t *key)
{
	EVP_MAC *fresh;
	EVP_MAC *poly = crypto_mac(cr, CRYPTO_MAC_POLY1305, &fresh);

	c->hdr = EVP_CIPHER_CTX_new();
	c->mac = poly ? EVP_MAC_CTX_new(poly) : NULL; /* holds its own reference to poly */
	EVP_MAC_free(fresh);
	if (chacha == NULL || c->hdr == NULL || c->mac == NULL)
		return -1;
	/* K_2 (main) is the first 32 bytes, K_1 (length) the second. */
	if (EVP_CipherInit_ex2(c->ctx, chacha, key, NULL, 1, NULL) != 1 ||
	    EVP_CipherInit_ex2(c->hdr, chacha, key + 32, NULL, 1, NULL) != 1)
		return -1;
	return 0;
}

/* The HMAC context of the MAC (ETM or not), keyed. */
static int setup_hmac(struct pkt_cipher *c, struct ssh_crypto *cr, const uint8_t *mac_key)
{
	EVP_MAC *fresh;
	EVP_MAC *hmac = crypto_mac(cr, CRYPTO_MAC_HMAC, &fresh);
	char digest[8];
	OSSL_PARAM params[2];

	strcpy(digest, c->mi->tag_len == 32 ? "SHA256" : "SHA512");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	c->mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	EVP_MAC_free(fresh);
	if (c->mac == NULL || EVP_MAC_init(c->mac, mac_key, c->mi->key_len, params) != 1)
		return -1;
	return 0;
}

/* Sets up the contexts for ci (and mi for AES-CTR) with the given keys. Returns 0 or -1. */
static int setup_keys(struct pkt_cipher *c, struct ssh_crypto *cr, const uint8_t *key,
		      const uint8_t *iv, const uint8_t *mac_key)
{
	EVP_CIPHER *fresh;
	const EVP_CIPHER *evp = crypto_cipher(cr, c->ci->id, &fresh);
	int ret = -1;

	switch (c->ci->id) {
	case CIPHER_CHACHAPOLY:
		ret = setup_chachapoly(c, cr, evp, key);
		break;
	case CIPHER_AES128_GCM:
	case CIPHER_AES256_GCM:
		memcpy(c->iv, iv, sizeof(c->iv));
		if (evp != NULL &&
		    EVP_CipherInit_ex2(c->ctx, evp, key, NULL, c->encrypt, NULL) == 1)
			ret = 0;
		break;
	case CIPHER_AES128_CTR:
	case CIPHER_AES192_CTR:
	case CIPHER_AES256_CTR:
		if (c->mi == NULL || evp == NULL ||
		    EVP_CipherInit_ex2(c->ctx, evp, key, iv, c->encrypt, NULL) != 1)
			break;
		ret = setup_hmac(c, cr, mac_key);
		break;
	default:
		break;
	}
	EVP_CIPHER_free(fresh); /* the contexts hold their own references */
	return ret;
}

struct pkt_cipher *cipher_new(struct ssh_crypto *cr, const struct cipher_info *ci,
			      const struct mac_info *mi, const uint8_t *key, const uint8_t *iv,
			      const uint8_t *mac_key, bool encrypt)
{
	struct pkt_cipher *c = xcalloc(1, sizeof(*c));

	c->ci = ci;
	c->mi = ci->tag_len ? NULL : mi;
	c->encrypt = encrypt;
	c->ctx = EVP_CIPHER_CTX_new();
	if (c->ctx == NULL || setup_keys(c, cr, key, iv, mac_key) != 0) {
		cipher_free(c);
		return NULL;
	}
	return c;
}

void cipher_free(struct pkt_cipher *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->ctx);
	EVP_CIPHER_CTX_free(c->hdr);
	EVP_MAC_CTX_free(c->mac);
	freezero(c, sizeof(*c));
}

size_t cipher_block(const struct pkt_cipher *c)
{
	return c ? c->ci->block : 8;
}

size_t cipher_tag_len(const struct pkt_cipher *c)
{
	if (c == NULL)
		return 0;
	return c->ci->tag_len ? c->ci->tag_len : c->mi->tag_len;
}

/* chacha20 nonce for OpenSSL's 16-byte IV: 64-bit little-endian block counter (0), then the
 * sequence number as a 64-bit big-endian value, as in the original DJB construction. */
static void chacha_iv(uint8_t iv[16], uint32_t seq)
{
	memset(iv, 0, 16);
	put_u32be(iv + 12, seq);
}

/* Runs block 0 of the main key stream to make the Poly1305 key; the context is left at block 1,
 * which is where the payload starts. */
static int chacha_poly_key(struct pkt_cipher *c, const uint8_t iv[16], uint8_t polykey[64])
{
	int outl;

	memset(polykey, 0, 64);
	if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, iv, 1, NULL) != 1 ||
	    EVP_CipherUpdate(c->ctx, polykey, &outl, polykey, 64) != 1)
		return -1;
	return 0;
}

static int poly1305_tag(struct pkt_cipher *c, const uint8_t *key, const uint8_t *pkt, size_t n,
			uint8_t *tag)
{
	size_t outl;

	if (EVP_MAC_init(c->mac, key, 32, NULL) != 1 || EVP_MAC_update(c->mac, pkt, n) != 1 ||
	    EVP_MAC_final(c->mac, tag, &outl, 16) != 1)
		return -1;
	return 0;
}

static int chachapoly_seal(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, uint8_t *tag)
{
	uint8_t iv[16], polykey[64];
	int outl, ret = -1;

	chacha_iv(iv, seq);
	if (EVP_CipherInit_ex2(c->hdr, NULL, NULL, iv, 1, NULL) != 1 ||
	    EVP_CipherUpdate(c->hdr, pkt, &outl, pkt, 4) != 1)
		goto out;
	if (chacha_poly_key(c, iv, polykey) != 0 ||
	    EVP_CipherUpdate(c->ctx, pkt + 4, &outl, pkt + 4, (int)(n - 4)) != 1)
		goto out;
	ret = poly1305_tag(c, polykey, pkt, n, tag);
out:
	OPENSSL_cleanse(polykey, sizeof(polykey));
	return ret;
}

static int chachapoly_open(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n,
			   const uint8_t *tag)
{
	uint8_t iv[16], polykey[64], expect[16];
	int outl, ret = -1;

	chacha_iv(iv, seq);
	if (chacha_poly_key(c, iv, polykey) != 0 || poly1305_tag(c, polykey, pkt, n, expect) != 0)
		goto out;
	if (CRYPTO_memcmp(expect, tag, 16) != 0)
		goto out;
	if (EVP_CipherUpdate(c->ctx, pkt + 4, &outl, pkt + 4, (int)(n - 4)) != 1)
		goto out;
	put_u32be(pkt, (uint32_t)(n - 4));
	ret = 0;
out:
	OPENSSL_cleanse(polykey, sizeof(polykey));
	return ret;
}

/* The 64-bit invocation counter in iv[4..12) counts packets (RFC 5647 §7.1). */
static void gcm_next_iv(struct pkt_cipher *c)
{
	for (int i = 11; i >= 4; i--) {
		if (++c->iv[i] != 0)
			break;
	}
}

static int gcm_crypt(struct pkt_cipher *c, uint8_t *pkt, size_t n, uint8_t *tag)
{
	int outl;
	uint8_t fin[16], iv[12];

	memcpy(iv, c->iv, sizeof(iv));
	if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, c->iv, c->encrypt, NULL) != 1 ||
	    EVP_CipherUpdate(c->ctx, NULL, &outl, pkt, 4) != 1 ||
	    EVP_CipherUpdate(c->ctx, pkt + 4, &outl, pkt + 4, (int)(n - 4)) != 1)
		return -1;
	gcm_next_iv(c);
	if (c->encrypt) {
		if (EVP_CipherFinal_ex(c->ctx, fin, &outl) != 1)
			return -1;
		return EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 ? 0 : -1;
	}
	if (EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
	    EVP_CipherFinal_ex(c->ctx, fin, &outl) == 1)
		return 0;
	/* GCM decrypts while it authenticates: after a bad tag, run the same key stream over the
	 * packet again so no unauthenticated plaintext is left behind (cipher.h). The next call
	 * sets the direction again. */
	if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, iv, 1, NULL) != 1 ||
	    EVP_CipherUpdate(c->ctx, pkt + 4, &outl, pkt + 4, (int)(n - 4)) != 1)
		OPENSSL_cleanse(pkt + 4, n - 4);
	return -1;
}

/* HMAC over uint32 seq || pkt[0..n): the packet as sent for encrypt-then-MAC (length in the
 * clear, the rest encrypted), the plaintext packet for encrypt-and-MAC (RFC 4253 §6.4). */
static int hmac_tag(struct pkt_cipher *c, uint32_t seq, const uint8_t *pkt, size_t n, uint8_t *tag)
{
	uint8_t seqb[4];
	size_t outl;

	put_u32be(seqb, seq);
	if (EVP_MAC_init(c->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(c->mac, seqb, 4) != 1 ||
	    EVP_MAC_update(c->mac, pkt, n) != 1 ||
	    EVP_MAC_final(c->mac, tag, &outl, c->mi->tag_len) != 1)
		return -1;
	return 0;
}

/* Encrypt-and-MAC (RFC 6668): the MAC over the plaintext, then the whole packet encrypted. */
static int eam_seal(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, uint8_t *tag)
{
	int outl;

	if (hmac_tag(c, seq, pkt, n, tag) != 0 ||
	    EVP_CipherUpdate(c->ctx, pkt, &outl, pkt, (int)n) != 1)
		return -1;
	return 0;
}

/* Encrypt-and-MAC: cipher_peek_len decrypted the first block; decrypts the rest and checks the
 * MAC over the plaintext in constant time. The length was bounded by the caller before it
 * waited for the packet; a bad length and a bad MAC end the session alike, and with AES-CTR a
 * length decrypted from a moved block tells an attacker nothing (its key stream depends on
 * the position), unlike the CBC attack that made OpenSSH hide length errors. A failure
 * wipes the packet: no unauthenticated plaintext is left behind. */
static int eam_open(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, const uint8_t *tag)
{
	uint8_t expect[64];
	size_t b = c->ci->block;
	int outl;

	if (n < b || EVP_CipherUpdate(c->ctx, pkt + b, &outl, pkt + b, (int)(n - b)) != 1 ||
	    hmac_tag(c, seq, pkt, n, expect) != 0 ||
	    CRYPTO_memcmp(expect, tag, c->mi->tag_len) != 0) {
		OPENSSL_cleanse(pkt, n);
		return -1;
	}
	return 0;
}

int cipher_seal(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, uint8_t *tag)
{
	int outl;

	switch (c->ci->id) {
	case CIPHER_CHACHAPOLY:
		return chachapoly_seal(c, seq, pkt, n, tag);
	case CIPHER_AES128_GCM:
	case CIPHER_AES256_GCM:
		return gcm_crypt(c, pkt, n, tag);
	default:
		if (!c->mi->etm)
			return eam_seal(c, seq, pkt, n, tag);
		if (EVP_CipherUpdate(c->ctx, pkt + 4, &outl, pkt + 4, (int)(n - 4)) != 1)
			return -1;
		return hmac_tag(c, seq, pkt, n, tag);
	}
}

static bool is_eam(const struct pkt_cipher *c)
{
	return c != NULL && c->mi != NULL && !c->mi->etm;
}

bool cipher_len_aligned(const struct pkt_cipher *c)
{
	return c == NULL || is_eam(c);
}

size_t cipher_len_bytes(const struct pkt_cipher *c)
{
	return is_eam(c) ? c->ci->block : 4;
}

uint32_t cipher_peek_len(struct pkt_cipher *c, uint32_t seq, uint8_t *first)
{
	uint8_t iv[16], out[4];
	int outl;

	if (is_eam(c)) {
		if (EVP_CipherUpdate(c->ctx, first, &outl, first, (int)c->ci->block) != 1)
			return UINT32_MAX;
		return get_u32be(first);
	}
	if (c == NULL || c->ci->id != CIPHER_CHACHAPOLY)
		return get_u32be(first);
	chacha_iv(iv, seq);
	if (EVP_CipherInit_ex2(c->hdr, NULL, NULL, iv, 1, NULL) != 1 ||
	    EVP_CipherUpdate(c->hdr, out, &outl, first, 4) != 1)
		return UINT32_MAX;
	return get_u32be(out);
}

int cipher_open(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, const uint8_t *tag)
{
	uint8_t expect[64];
	int outl;

	switch (c->ci->id) {
	case CIPHER_CHACHAPOLY:
		return chachapoly_open(c, seq, pkt, n, tag);
	case CIPHER_AES128_GCM:
	case CIPHER_AES256_GCM:
		return gcm_crypt(c, pkt, n, (uint8_t *)tag);
	default:
		if (!c->mi->etm)
			return eam_open(c, seq, pkt, n, tag);
		if (hmac_tag(c, seq, pkt, n, expect) != 0 ||
		    CRYPTO_memcmp(expect, tag, c->mi->tag_len) != 0)
			return -1;
		if (EVP_CipherUpdate(c->ctx, pkt + 4, &outl, pkt + 4, (int)(n - 4)) != 1)
			return -1;
		return 0;
	}
}
