/* Unit tests for src/ssh/cipher.c: every cipher's sealed packets against known answers that
 * tests/unit/gen_cipher_vectors.py computed with python3-cryptography (and cross-checked with
 * asyncssh), open() round trips, single-bit tampering anywhere, and the chacha20-poly1305
 * encrypted length. */
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

static const struct cv_cipher *cv_get(const char *name)
{
	for (size_t i = 0; i < NCV; i++) {
		if (strcmp(cv_ciphers[i].cipher, name) == 0)
			return &cv_ciphers[i];
	}
	fail_msg("no vectors for %s", name);
	return NULL;
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
		assert_int_equal(cipher_open(dec, cv->packets[i].seq, buf, n, buf + n), 0);
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
			if (cipher_open(dec, seq, buf, n, buf + n) != -1)
				fail_msg("%s packet %zu: bit %zu flipped but open succeeded",
					 cv->cipher, p, bit);
			cipher_free(dec);
		}
		/* The right sequence number matters too (it is not used by GCM). */
		if (strstr(cv->cipher, "gcm") == NULL) {
			struct pkt_cipher *dec = dec_at(cv, p);
			memcpy(buf, good, n + tag_len);
			assert_int_equal(cipher_open(dec, seq + 1, buf, n, buf + n), -1);
			cipher_free(dec);
		}
		/* And the untouched packet still opens. */
		struct pkt_cipher *dec = dec_at(cv, p);
		memcpy(buf, good, n + tag_len);
		assert_int_equal(cipher_open(dec, seq, buf, n, buf + n), 0);
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

/* cipher.h: "-1 on a bad MAC (pkt is then left undecrypted)": a failed open must not leave
 * unauthenticated plaintext behind. */
static void check_bad_tag_leaves_packet(const struct cv_cipher *cv)
{
	size_t n, tag_len;
	uint8_t *buf = sealed(cv, 3, &n, &tag_len);
	uint8_t *copy = malloc(n + tag_len);
	struct pkt_cipher *dec = dec_at(cv, 3);

	buf[n] ^= 1; /* first tag byte */
	memcpy(copy, buf, n + tag_len);
	int rc = cipher_open(dec, cv->packets[3].seq, buf, n, buf + n);
	bool changed = memcmp(buf, copy, n) != 0;
	cipher_free(dec);
	free(copy);
	free(buf);
	assert_int_equal(rc, -1);
	if (changed)
		fail_msg("%s: cipher_open failed but changed the packet in place", cv->cipher);
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

/* The other ciphers send the length in the clear; peek_len just reads it. */
static void test_peek_len_clear(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCV; c++) {
		const struct cv_cipher *cv = &cv_ciphers[c];
		if (strstr(cv->cipher, "chacha"))
			continue;
		size_t n, tag_len;
		uint8_t *buf = sealed(cv, 2, &n, &tag_len);
		struct pkt_cipher *dec = new_cipher(cv, false);
		assert_int_equal(get_u32be(buf), n - 4);
		assert_int_equal(cipher_peek_len(dec, 12345, buf), n - 4);
		cipher_free(dec);
		free(buf);
	}
	uint8_t clear[4] = {0, 0, 1, 2};
	assert_int_equal(cipher_peek_len(NULL, 0, clear), 0x102);
}

/* ---- negotiation tables ---- */

static void test_offer_and_find(void **state)
{
	(void)state;
	assert_string_equal(cipher_offer(), "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
					    "aes256-gcm@openssh.com,aes128-ctr,aes256-ctr");
	assert_string_equal(mac_offer(),
			    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com");
	static const char *const refused[] = {"aes128-cbc", "3des-cbc", "aes192-ctr",
					      "none",	    "arcfour",	""};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_null(cipher_find(refused[i], strlen(refused[i])));
	static const char *const refused_mac[] = {"hmac-sha1", "hmac-sha2-256", "hmac-md5",
						  "umac-64-etm@openssh.com", "none"};
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
		cmocka_unit_test(test_tamper_chacha20_poly1305),
		cmocka_unit_test(test_tamper_aes128_gcm),
		cmocka_unit_test(test_tamper_aes256_gcm),
		cmocka_unit_test(test_tamper_aes128_ctr_hmac_sha256_etm),
		cmocka_unit_test(test_tamper_aes256_ctr_hmac_sha512_etm),
		cmocka_unit_test(test_bad_tag_leaves_packet_chacha20_poly1305),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes128_gcm),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes256_gcm),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes128_ctr),
		cmocka_unit_test(test_bad_tag_leaves_packet_aes256_ctr),
		cmocka_unit_test(test_peek_len_chacha),
		cmocka_unit_test(test_peek_len_clear),
		cmocka_unit_test(test_offer_and_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
