/* Packet protection for the SSH binary packet protocol: chacha20-poly1305@openssh.com,
 * aes128/256-gcm@openssh.com and aes128/256-ctr with hmac-sha2-256/512-etm@openssh.com.
 * All primitives come from libcrypto; this file only arranges them the way the specs say. */
#ifndef ALKNET_SSH_CIPHER_H
#define ALKNET_SSH_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cipher_id {
	CIPHER_NONE = 0,
	CIPHER_CHACHAPOLY = 1,
	CIPHER_AES128_GCM = 2,
	CIPHER_AES256_GCM = 3,
	CIPHER_AES128_CTR = 4,
	CIPHER_AES256_CTR = 5,
};

enum mac_id {
	MAC_NONE = 0,
	MAC_HMAC_SHA256_ETM = 1,
	MAC_HMAC_SHA512_ETM = 2,
};

struct cipher_info {
	const char *name;
	enum cipher_id id;
	size_t key_len;
	size_t iv_len;
	size_t block;
	size_t tag_len; /* 0 when a separate MAC is needed */
};

struct mac_info {
	const char *name;
	enum mac_id id;
	size_t key_len;
	size_t tag_len;
};

struct pkt_cipher;
struct ssh_crypto;

/* Look-ups by wire name (length-delimited); NULL if not offered by us. */
const struct cipher_info *cipher_find(const char *name, size_t len);
const struct mac_info *mac_find(const char *name, size_t len);
/* Comma-separated lists we offer, in preference order. */
const char *cipher_offer(void);
const char *mac_offer(void);

/* Keys are copied. mac may be NULL for AEAD ciphers. The algorithms come from cr, the
 * per-loop cache (borrowed, used during this call only), or are fetched for this cipher when
 * cr is NULL (tests). Returns NULL if libcrypto refuses. The caller frees it with
 * cipher_free. */
struct pkt_cipher *cipher_new(struct ssh_crypto *cr, const struct cipher_info *ci,
			      const struct mac_info *mi, const uint8_t *key, const uint8_t *iv,
			      const uint8_t *mac_key, bool encrypt);
void cipher_free(struct pkt_cipher *c);
/* Block size for padding and the tag that follows each packet. */
size_t cipher_block(const struct pkt_cipher *c);
size_t cipher_tag_len(const struct pkt_cipher *c);

/* pkt: [uint32 len][byte padlen][payload][padding], n bytes in all; encrypts in place and writes
 * cipher_tag_len() bytes to tag. Returns 0 or -1. */
int cipher_seal(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, uint8_t *tag);
/* The packet length from the first 4 received bytes (decrypted for chacha20-poly1305). */
uint32_t cipher_peek_len(struct pkt_cipher *c, uint32_t seq, const uint8_t *first4);
/* Verifies tag over pkt (n bytes including the length) in constant time, then decrypts
 * pkt[4..n) in place. Returns 0, or -1 on a bad MAC (pkt is then left undecrypted). */
int cipher_open(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, const uint8_t *tag);

#endif
