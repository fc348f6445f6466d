/* Unit tests for src/ssh/cipher.c: every cipher's sealed packets against known answers that
 * tests/unit/gen_cipher_vectors.py computed with python3-cryptography (and cross-checked with
 * asyncssh), open() round trips, single-bit tampering anywhere, the chacha20-poly1305 and
 * encrypt-and-MAC (hmac-sha2-256/512, RFC 6668) encrypted lengths, and RFC 4231's HMAC test
 * vectors through the packet MAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "cipher_vectors.h"
#include "ssh/buf.h"
#include "ssh/cipher.h"

#define NCV	(sizeof(cv_ciphers) / sizeof(cv_ciphers[0]))
#define TAG_MAX 64

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
	uint8_t md[32];

	assert_int_equal(EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The plaintext packet i of the vectors (see cipher_vectors.h). Returns malloc'd bytes. */
static uint8_t *plain_packet(size_t i, const struct cv_packet *v)
{
	uint8_t *p = malloc(v->pkt_len);

	assert_non_null(p);
	put_u32be(p, (uint32_t)(v->pkt_len - 4));
	p[4] = v->padlen;
	for (uint32_t j = 0; j < v->payload_len; j++)
		p[5 + j] = (uint8_t)(j * 131 + 7 * (i + 1));
	for (uint32_t j = 0; j < v->padlen; j++)
		p[5 + v->payload_len + j] = (uint8_t)(0x5a ^ j ^ (i * 17));
	assert_int_equal(5 + v->payload_len + v->padlen, v->pkt_len);
	char hex[65];
	sha256_hex(p, v->pkt_len, hex);
	assert_string_equal(hex, v->pt_sha256);
	return p;
}

static struct pkt_cipher *new_cipher(const struct cv_cipher *cv, bool encrypt)
{
	uint8_t key[64], iv[16], mk[64];
	const struct cipher_info *ci = cipher_find(cv->cipher, strlen(cv->cipher));
	const struct mac_info *mi = cv->mac ? mac_find(cv->mac, strlen(cv->mac)) : NULL;

	assert_non_null(ci);
	assert_int_equal(unhex(cv->key_hex, key, sizeof(key)), ci->key_len);
	assert_int_equal(unhex(cv->iv_hex, iv, sizeof(iv)), ci->iv_len);
	if (cv->mac) {
		assert_non_null(mi);
		assert_int_equal(unhex(cv->mac_key_hex, mk, sizeof(mk)), mi->key_len);
	}
	struct pkt_cipher *c = cipher_new(NULL, ci, mi, key, iv, mk, encrypt);
	assert_non_null(c);
	return c;
}

/* The vectors of cipher with mac (NULL: the first entry for the cipher). */
static const struct cv_cipher *cv_get_mac(const char *name, const char *mac)
{
	for (size_t i = 0; i < NCV; i++) {
		if (strcmp(cv_ciphers[i].cipher, name) == 0 &&
		    (mac == NULL || strcmp(cv_ciphers[i].mac, mac) == 0))
			return &cv_ciphers[i];
	}
	fail_msg("no vectors for %s with %s", name, mac ? mac : "its MAC");
	return NULL;
}

static const struct cv_cipher *cv_get(const char *name)
{
	return cv_get_mac(name, NULL);
}

/* Encrypt-and-MAC (RFC 6668): the length is encrypted too. */
static bool cv_eam(const struct cv_cipher *cv)
{
	return cv->mac != NULL && strstr(cv->mac, "-etm@") == NULL;
}

/* What a receiver does: the length first (decrypting the first block in place with
 * encrypt-and-MAC), then the packet. */
static int open_packet(struct pkt_cipher *dec, uint32_t seq, uint8_t *buf, size_t n)
{
	(void)cipher_peek_len(dec, seq, buf);
	return cipher_open(dec, seq, buf, n, buf + n);
}

/* ---- known answers ---- */

/* Seals every vector packet in order with one context and compares the output; then opens
 * each with one decrypting context and gets the plaintext back. */
static void check_kat(const struct cv_cipher *cv)
{
	struct pkt_cipher *enc = new_cipher(cv, true);
	struct pkt_cipher *dec = new_cipher(cv, false);
	size_t tag_len = cipher_tag_len(enc);
	const struct cipher_info *ci = cipher_find(cv->cipher, strlen(cv->cipher));

	assert_int_equal(cipher_block(enc), strstr(cv->cipher, "chacha") ? 8 : 16);
	assert_int_equal(tag_len, cv->mac ? (strstr(cv->mac, "512") ? 64 : 32) : 16);
	assert_int_equal(ci->tag_len, cv->mac ? 0 : 16);
	for (size_t i = 0; i < cv->n_packets; i++) {
		const struct cv_packet *v = &cv->packets[i];
		uint8_t *pt = plain_packet(i, v);
		uint8_t *buf = malloc(v->pkt_len + TAG_MAX);
		uint8_t tag[TAG_MAX];
		char hex[65];

		memcpy(buf, pt, v->pkt_len);
		assert_int_equal(cipher_seal(enc, v->seq, buf, v->pkt_len, buf + v->pkt_len), 0);
		if (v->ct_hex != NULL) {
			uint8_t *want = malloc(v->pkt_len);
			assert_int_equal(unhex(v->ct_hex, want, v->pkt_len), v->pkt_len);
			assert_memory_equal(buf, want, v->pkt_len);
			free(want);
		}
		sha256_hex(buf, v->pkt_len, hex);
		assert_string_equal(hex, v->ct_sha256);
		assert_int_equal(unhex(v->tag_hex, tag, sizeof(tag)), tag_len);
		assert_memory_equal(buf + v->pkt_len, tag, tag_len);

		/* The receiver learns the length from the first four bytes alone. */
		assert_int_equal(cipher_peek_len(dec, v->seq, buf), v->pkt_len - 4);
		assert_int_equal(cipher_open(dec, v->seq, buf, v->pkt_len, buf + v->pkt_len), 0);
		assert_memory_equal(buf + 4, pt + 4, v->pkt_len - 4);
		free(buf);
		free(pt);
	}
	cipher_free(enc);
	cipher_free(dec);
}

#define KAT_TEST(fn, name)                                                                         \
	static void fn(void **state)                                                               \
	{                                                                                          \
		(void)state;                                                                       \
		check_kat(cv_get(name));                                                           \
	}
KAT_TEST(test_kat_chacha20_poly1305, "chacha20-poly1305@openssh.com")
KAT_TEST(test_kat_aes128_gcm, "aes128-gcm@openssh.com")
KAT_TEST(test_kat_aes256_gcm, "aes256-gcm@openssh.com")
KAT_TEST(test_kat_aes128_ctr_hmac_sha256_etm, "aes128-ctr")
KAT_TEST(test_kat_aes256_ctr_hmac_sha512_etm, "aes256-ctr")
KAT_TEST(test_kat_aes192_ctr_hmac_sha256_etm, "aes192-ctr")

#define KAT_MAC_TEST(fn, name, mac)                                                                \
	static void fn(void **state)                                                               \
	{                                                                                          \
		(void)state;                                                                       \
		check_kat(cv_get_mac(name, mac));                                                  \
	}
KAT_MAC_TEST(test_kat_aes128_ctr_hmac_sha256, "aes128-ctr", "hmac-sha2-256")
KAT_MAC_TEST(test_kat_aes256_ctr_hmac_sha512, "aes256-ctr", "hmac-sha2-512")

/* ---- tampering ---- */

/* Packet p sealed as in the vectors; *n gets its length, *tag_len the tag size. */
static uint8_t *sealed(const struct cv_cipher *cv, size_t p, size_t *n, size_t *tag_len)
{
	struct pkt_cipher *enc = new_cipher(cv, true);
	uint8_t *out = NULL;

	for (size_t i = 0; i <= p; i++) {
		const struct cv_packet *v = &cv->packets[i];
		uint8_t *buf = plain_packet(i, v);
		buf = realloc(buf, v->pkt_len + TAG_MAX);
		assert_int_equal(cipher_seal(enc, v->seq, buf, v->pkt_len, buf + v->pkt_len), 0);
		free(out);
		out = buf;
		*n = v->pkt_len;
	}
	*tag_len = cipher_tag_len(enc);
	cipher_free(enc);
	return out;
}

/* A decrypting context that has opened packets 0..p-1 (AES-CTR's key stream and the GCM
 * counter must be where the sender's were). */
static struct pkt_cipher *dec_at(const struct cv_cipher *cv, size_t p)
{
	struct pkt_cipher *dec = new_cipher(cv, false);

	for (size_t i = 0; i < p; i++) {
		size_t n, tl;
		uint8_t *buf = sealed(cv, i, &n, &tl);
		assert_int_equal(open_packet(dec, cv->packets[i].seq, buf, n), 0);
		free(buf);
	}
	return dec;
}

/* Every single-bit flip in the length, body or tag of packets 0 and 1 fails to open. */
static void check_tamper(const struct cv_cipher *cv)
{
	for (size_t p = 0; p < 2; p++) {
		size_t n, tag_len;
		uint8_t *good = sealed(cv, p, &n, &tag_len);
		uint8_t *buf = malloc(n + tag_len);
		uint32_t seq = cv->packets[p].seq;

		for (size_t bit = 0; bit < (n + tag_len) * 8; bit++) {
			struct pkt_cipher *dec = dec_at(cv, p);
			memcpy(buf, good, n + tag_len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (open_packet(dec, seq, buf, n) != -1)
				fail_msg("%s packet %zu: bit %zu flipped but open succeeded",
					 cv->cipher, p, bit);
			cipher_free(dec);
		}
		/* The right sequence number matters too (it is not used by GCM). */
		if (strstr(cv->cipher, "gcm") == NULL) {
			struct pkt_cipher *dec = dec_at(cv, p);
			memcpy(buf, good, n + tag_len);
			assert_int_equal(open_packet(dec, seq + 1, buf, n), -1);
			cipher_free(dec);
		}
		/* And the untouched packet still opens. */
		struct pkt_cipher *dec = dec_at(cv, p);
		memcpy(buf, good, n + tag_len);
		assert_int_equal(open_packet(dec, seq, buf, n), 0);
		cipher_free(dec);
		free(buf);
		free(good);
	}
}

#define TAMPER_TEST(fn, name)                                                                      \
	static void fn(void **state)                                                               \
	{                                                                                          \
		(void)state;                                                                       \
		check_tamper(cv_get(name));                                                        \
	}
TAMPER_TEST(test_tamper_chacha20_poly1305, "chacha20-poly1305@openssh.com")
TAMPER_TEST(test_tamper_aes128_gcm, "aes128-gcm@openssh.com")
TAMPER_TEST(test_tamper_aes256_gcm, "aes256-gcm@openssh.com")
TAMPER_TEST(test_tamper_aes128_ctr_hmac_sha256_etm, "aes128-ctr")
TAMPER_TEST(test_tamper_aes256_ctr_hmac_sha512_etm, "aes256-ctr")
TAMPER_TEST(test_tamper_aes192_ctr_hmac_sha256_etm, "aes192-ctr")

static void test_tamper_non_etm(void **state)
{
	(void)state;
	check_tamper(cv_get_mac("aes128-ctr", "hmac-sha2-256"));
	check_tamper(cv_get_mac("aes256-ctr", "hmac-sha2-512"));
}

/* cipher.h: "-1 on a bad MAC (pkt is then left undecrypted, or wiped to zeros with a non-ETM
 * MAC)": a failed open must not leave unauthenticated plaintext behind. */
static void check_bad_tag_leaves_packet(const struct cv_cipher *cv)
{
	size_t n, tag_len;
	uint8_t *buf = sealed(cv, 3, &n, &tag_len);
	uint8_t *copy = malloc(n + tag_len);
	uint8_t *zero = calloc(1, n);
	struct pkt_cipher *dec = dec_at(cv, 3);

	buf[n] ^= 1; /* first tag byte */
	memcpy(copy, buf, n + tag_len);
	int rc = open_packet(dec, cv->packets[3].seq, buf, n);
	bool changed = memcmp(buf, copy, n) != 0;
	bool wiped = memcmp(buf, zero, n) == 0;
	cipher_free(dec);
	free(copy);
	free(zero);
	free(buf);
	assert_int_equal(rc, -1);
	if (cv_eam(cv) ? !wiped : changed)
		fail_msg("%s: cipher_open failed but left the packet changed", cv->cipher);
}

#define BADTAG_TEST(fn, name)                                                                      \
	static void fn(void **state)                                                               \
	{                                                                                          \
		(void)state;                                                                       \
		check_bad_tag_leaves_packet(cv_get(name));                                         \
	}
BADTAG_TEST(test_bad_tag_leaves_packet_chacha20_poly1305, "chacha20-poly1305@openssh.com")
BADTAG_TEST(test_bad_tag_leaves_packet_aes128_gcm, "aes128-gcm@openssh.com")
BADTAG_TEST(test_bad_tag_leaves_packet_aes256_gcm, "aes256-gcm@openssh.com")
BADTAG_TEST(test_bad_tag_leaves_packet_aes128_ctr, "aes128-ctr")
BADTAG_TEST(test_bad_tag_leaves_packet_aes256_ctr, "aes256-ctr")
BADTAG_TEST(test_bad_tag_leaves_packet_aes192_ctr, "aes192-ctr")

static void test_bad_tag_wipes_non_etm(void **state)
{
	(void)state;
	check_bad_tag_leaves_packet(cv_get_mac("aes128-ctr", "hmac-sha2-256"));
	check_bad_tag_leaves_packet(cv_get_mac("aes256-ctr", "hmac-sha2-512"));
}

/* ---- the chacha20-poly1305 length field ---- */

/* The length is encrypted under K_1 with the sequence number as nonce: peek_len decrypts it
 * for the right sequence number only, and does not disturb the following open. */
static void test_peek_len_chacha(void **state)
{
	const struct cv_cipher *cv = cv_get("chacha20-poly1305@openssh.com");
	(void)state;

	for (size_t p = 0; p < cv->n_packets; p++) {
		size_t n, tag_len;
		uint8_t *buf = sealed(cv, p, &n, &tag_len);
		struct pkt_cipher *dec = new_cipher(cv, false);
		uint32_t seq = cv->packets[p].seq;

		assert_int_not_equal(get_u32be(buf), n - 4); /* not in the clear */
		assert_int_not_equal(cipher_peek_len(dec, seq + 1, buf), n - 4);
		assert_int_equal(cipher_peek_len(dec, seq, buf), n - 4);
		assert_int_equal(cipher_peek_len(dec, seq, buf), n - 4); /* repeatable */
		assert_int_equal(cipher_open(dec, seq, buf, n, buf + n), 0);
		assert_int_equal(get_u32be(buf), n - 4);
		assert_int_equal(buf[4], cv->packets[p].padlen);
		cipher_free(dec);
		free(buf);
	}
}

/* Encrypt-and-MAC encrypts the length with the rest: peek_len decrypts the first block in
 * place (the key stream moves on), open does the rest; the length counts in the alignment. */
static void test_peek_len_non_etm(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCV; c++) {
		const struct cv_cipher *cv = &cv_ciphers[c];
		if (!cv_eam(cv))
			continue;
		for (size_t p = 0; p < cv->n_packets; p++) {
			size_t n, tag_len;
			uint8_t *buf = sealed(cv, p, &n, &tag_len);
			struct pkt_cipher *dec = dec_at(cv, p);
			uint8_t *pt = plain_packet(p, &cv->packets[p]);
			assert_int_equal(n % 16, 0);
			assert_int_equal(cipher_len_bytes(dec), 16);
			assert_true(cipher_len_aligned(dec));
			assert_int_not_equal(get_u32be(buf), n - 4);
			assert_int_equal(cipher_peek_len(dec, cv->packets[p].seq, buf), n - 4);
			assert_memory_equal(buf, pt, 16); /* the first block, decrypted in place */
			assert_int_equal(cipher_open(dec, cv->packets[p].seq, buf, n, buf + n), 0);
			assert_memory_equal(buf, pt, n);
			cipher_free(dec);
			free(pt);
			free(buf);
		}
	}
}

/* The other ciphers send the length in the clear; peek_len just reads it. */
static void test_peek_len_clear(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCV; c++) {
		const struct cv_cipher *cv = &cv_ciphers[c];
		if (strstr(cv->cipher, "chacha") || cv_eam(cv))
			continue;
		size_t n, tag_len;
		uint8_t *buf = sealed(cv, 2, &n, &tag_len);
		struct pkt_cipher *dec = new_cipher(cv, false);
		assert_int_equal(get_u32be(buf), n - 4);
		assert_int_equal(cipher_peek_len(dec, 12345, buf), n - 4);
		assert_int_equal(cipher_len_bytes(dec), 4);
		assert_false(cipher_len_aligned(dec));
		cipher_free(dec);
		free(buf);
	}
	uint8_t clear[4] = {0, 0, 1, 2};
	assert_int_equal(cipher_peek_len(NULL, 0, clear), 0x102);
	assert_int_equal(cipher_len_bytes(NULL), 4);
	assert_true(cipher_len_aligned(NULL));
}

/* ---- RFC 4231 HMAC-SHA-256/512 vectors through the packet MAC ---- */

/* RFC 4231 §4.2-4.5 (test cases 1-4): keys shorter than our 32/64 bytes, zero-padded (HMAC
 * pads every key shorter than the block with zeros, so the MAC is the same). The data is
 * uint32 seq || packet for the packet MAC, so its first four bytes become the sequence
 * number and the rest the packet that cipher_seal / cipher_open see. */
struct rfc4231 {
	const char *key_hex, *data_hex, *sha256_hex, *sha512_hex;
};

static const struct rfc4231 rfc4231_cases[] = {
	{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	 "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	 "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	{"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	 "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	 "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	 "dddddddddddd",
	 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
	 "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
	 "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
	{"0102030405060708090a0b0c0d0e0f10111213141516171819",
	 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	 "cdcdcdcdcdcd",
	 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
	 "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
	 "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
};

static void check_rfc4231(const char *cipher, const char *mac, bool sha512)
{
	const struct cipher_info *ci = cipher_find(cipher, strlen(cipher));
	const struct mac_info *mi = mac_find(mac, strlen(mac));
	uint8_t key[32] = {0}, iv[16] = {0}, mk[64], data[64], want[64], buf[64 + 64];

	assert_non_null(mi);
	assert_int_equal(mi->key_len, sha512 ? 64 : 32);
	for (size_t i = 0; i < sizeof(rfc4231_cases) / sizeof(rfc4231_cases[0]); i++) {
		const struct rfc4231 *t = &rfc4231_cases[i];
		memset(mk, 0, sizeof(mk));
		unhex(t->key_hex, mk, sizeof(mk));
		size_t n = unhex(t->data_hex, data, sizeof(data));
		assert_int_equal(unhex(sha512 ? t->sha512_hex : t->sha256_hex, want, sizeof(want)),
				 mi->tag_len);
		uint32_t seq = get_u32be(data);
		struct pkt_cipher *enc = cipher_new(NULL, ci, mi, key, iv, mk, true);
		struct pkt_cipher *dec = cipher_new(NULL, ci, mi, key, iv, mk, false);
		assert_non_null(enc);
		assert_non_null(dec);
		memcpy(buf, data + 4, n - 4);
		assert_int_equal(cipher_seal(enc, seq, buf, n - 4, buf + n - 4), 0);
		if (memcmp(buf + n - 4, want, mi->tag_len) != 0)
			fail_msg("%s: RFC 4231 test case %zu: wrong MAC", mac, i + 1);
		/* And it opens (encrypt-and-MAC needs a whole first block: cases 3 and 4). */
		if (n - 4 >= 16) {
			assert_int_equal(open_packet(dec, seq, buf, n - 4), 0);
			assert_memory_equal(buf, data + 4, n - 4);
		}
		cipher_free(enc);
		cipher_free(dec);
	}
}

static void test_rfc4231_packet_mac(void **state)
{
	(void)state;
	check_rfc4231("aes128-ctr", "hmac-sha2-256", false);
	check_rfc4231("aes128-ctr", "hmac-sha2-512", true);
}

/* ---- negotiation tables ---- */

static void test_offer_and_find(void **state)
{
	(void)state;
	assert_string_equal(cipher_default_list(),
			    "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
			    "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr");
	assert_string_equal(cipher_supported_list(), cipher_default_list());
	assert_string_equal(mac_default_list(),
			    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
			    "hmac-sha2-256,hmac-sha2-512");
	assert_string_equal(mac_supported_list(),
			    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
			    "hmac-sha2-256,hmac-sha2-512");
	static const char *const refused[] = {"aes128-cbc", "3des-cbc", "aes192-cbc",
					      "none",	    "arcfour",	""};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_null(cipher_find(refused[i], strlen(refused[i])));
	static const char *const refused_mac[] = {"hmac-sha1", "hmac-sha1-etm@openssh.com",
						  "hmac-md5", "umac-64-etm@openssh.com", "none"};
	for (size_t i = 0; i < sizeof(refused_mac) / sizeof(refused_mac[0]); i++)
		assert_null(mac_find(refused_mac[i], strlen(refused_mac[i])));
	/* Names are length-delimited (they point into a name-list). */
	const char *list = "aes128-ctr,aes256-ctr";
	const struct cipher_info *ci = cipher_find(list, 10);
	assert_non_null(ci);
	assert_int_equal(ci->id, CIPHER_AES128_CTR);
	assert_null(cipher_find(list, 9));
	assert_null(cipher_find(list, 11));
	const struct mac_info *mi = mac_find("hmac-sha2-512-etm@openssh.com,x", 29);
	assert_non_null(mi);
	assert_int_equal(mi->tag_len, 64);
	assert_true(mi->etm);
	mi = mac_find("hmac-sha2-256", 13);
	assert_non_null(mi);
	assert_false(mi->etm);
	assert_int_equal(mi->key_len, 32);
	/* every supported name is found */
	const char *sup[2] = {cipher_supported_list(), mac_supported_list()};
	for (int k = 0; k < 2; k++) {
		for (const char *p = sup[k]; *p;) {
			size_t n = strcspn(p, ",");
			assert_non_null(k ? (const void *)mac_find(p, n)
					  : (const void *)cipher_find(p, n));
			p += n + (p[n] == ',');
		}
	}
	/* CTR needs its MAC. */
	uint8_t zero[64] = {0};
	assert_null(cipher_new(NULL, cipher_find("aes128-ctr", 10), NULL, zero, zero, zero, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_chacha20_poly1305),
		cmocka_unit_test(test_kat_aes128_gcm),
		cmocka_unit_test(test_kat_aes256_gcm),
		cmocka_unit_test(test_kat_aes128_ctr_hmac_sha256_etm),
		cmocka_unit_test(test_kat_aes256_ctr_hmac_sha512_etm),
		cmocka_unit_test(test_kat_aes192_ctr_hmac_sha256_etm),
		cmocka_unit_test(test_kat_aes128_ctr_hmac_sha256),
		cmocka_unit_test(test_kat_aes256_ctr_hmac_sha512),
		cmocka_unit_test(test_tamper_chacha20_poly1305),
		cmocka_unit_test(test_tamper_aes128_gcm),
		cmocka_unit_test(test_tamper_aes256_gcm),
		cmocka_unit_test(test_tamper_aes128_ctr_hmac_sha256_etm),
		cmocka_unit_test(test_tamper_aes256_ctr_hmac_sha512_etm),
		cmocka_unit_test(test_tamper_aes192_ctr_hmac_sha256_etm),
		cmocka_unit_test(test_tamper_non_etm),
		cmocka_unit_test(test_bad_tag_leaves_packet_chacha20_poly1305),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes128_gcm),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes256_gcm),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes128_ctr),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes256_ctr),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes192_ctr),
		cmocka_unit_test(test_bad_tag_wipes_non_etm),
		cmocka_unit_test(test_peek_len_chacha),
		cmocka_unit_test(test_peek_len_clear),
		cmocka_unit_test(test_peek_len_non_etm),
		cmocka_unit_test(test_rfc4231_packet_mac),
		cmocka_unit_test(test_offer_and_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
