/* Packet protection for the SSH binary packet protocol: chacha20-poly1305@openssh.com,
 * aes128/256-gcm@openssh.com and aes128/192/256-ctr with hmac-sha2-256/512-etm@openssh.com
 * (encrypt-then-MAC: the length in the clear, the MAC over the ciphertext) or, for older
 * clients, hmac-sha2-256/512 (RFC 6668, encrypt-and-MAC: the whole packet encrypted, the MAC
 * over the plaintext). hmac-sha1 is not offered. All primitives come from libcrypto; this
 * file only arranges them the way the specs say. */
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
	CIPHER_AES192_CTR = 6,
};

enum mac_id {
	MAC_NONE = 0,
	MAC_HMAC_SHA256_ETM = 1,
	MAC_HMAC_SHA512_ETM = 2,
	MAC_HMAC_SHA256 = 3, /* RFC 6668, encrypt-and-MAC */
	MAC_HMAC_SHA512 = 4,
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
	bool etm; /* encrypt-then-MAC (-etm@openssh.com); false: MAC over the plaintext */
};

struct pkt_cipher;
struct ssh_crypto;

/* Look-ups by wire name (length-delimited); NULL if not offered by us. */
const struct cipher_info *cipher_find(const char *name, size_t len);
const struct mac_info *mac_find(const char *name, size_t len);
/* Comma-separated lists, in preference order: what we offer unless configured otherwise, and
 * every name cipher_find / mac_find know. The non-ETM MACs are supported but not in the
 * default: ssh-audit warns about encrypt-and-MAC, and clients that need them can be let in
 * with --macs +hmac-sha2-256,hmac-sha2-512. */
const char *cipher_default_list(void);
const char *cipher_supported_list(void);
const char *mac_default_list(void);
const char *mac_supported_list(void);

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
/* Whether the length field counts in the block alignment of packets: yes in the clear (c
 * NULL) and with a non-ETM MAC, where the whole packet is encrypted; no for AEAD and ETM. */
bool cipher_len_aligned(const struct pkt_cipher *c);
/* How many received bytes cipher_peek_len needs: 4, or one cipher block with a non-ETM MAC
 * (the length is in the first encrypted block). */
size_t cipher_len_bytes(const struct pkt_cipher *c);
/* The packet length from the first cipher_len_bytes() received bytes: read in the clear,
 * decrypted aside for chacha20-poly1305 (repeatable), or with a non-ETM MAC decrypted in
 * place, which moves the AES-CTR key stream on: call it once per packet, then cipher_open
 * on the same bytes. The length is not authenticated yet: the caller bounds it before use. */
uint32_t cipher_peek_len(struct pkt_cipher *c, uint32_t seq, uint8_t *first);
/* Verifies tag over pkt (n bytes including the length) in constant time and decrypts
 * pkt[4..n) in place (with a non-ETM MAC: decrypts the rest first, then verifies the MAC over
 * the plaintext). Returns 0, or -1 on a bad MAC: pkt is then left undecrypted, or wiped to
 * zeros with a non-ETM MAC, so no unauthenticated plaintext stays behind either way. */
int cipher_open(struct pkt_cipher *c, uint32_t seq, uint8_t *pkt, size_t n, const uint8_t *tag);

#endif
