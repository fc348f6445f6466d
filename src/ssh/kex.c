/* Key exchange (RFC 4253 §7-8): negotiation, the exchange hash, key derivation, strict KEX
 * (PROTOCOL §1.10) and ext-info (RFC 8308). Either side may start a re-key at any time. The
 * methods themselves (curve25519, NIST ECDH, the post-quantum hybrids, finite-field DH) are
 * in kex_methods.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "../xmalloc.h"
#include "cipher.h"
#include "crypto.h"
#include "internal.h"
#include "kex_methods.h"
#include "key.h"

#define KEX_STRICT_C "kex-strict-c-v00@openssh.com"
#define KEX_STRICT_S "kex-strict-s-v00@openssh.com"
#define SIG_ALGS                                                                                   \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"                 \
	"rsa-sha2-512,rsa-sha2-256"

struct kex {
	bool ours_sent;
	bool theirs_rcvd;
	bool newkeys_sent;
	bool first;
	struct sbuf i_s; /* our KEXINIT payload */
	struct sbuf i_c; /* theirs */
	const struct cipher_info *enc_c2s, *enc_s2c;
	const struct mac_info *mac_c2s, *mac_s2c;
	const struct ssh_key *hostkey;
	char hostkey_alg[32];
	const struct kex_method *method;
	struct pkt_cipher *next_rx; /* installed when the client's NEWKEYS arrives */
};

bool kex_peer_in_kex(const struct ssh *s)
{
	return s->kex != NULL && s->kex->theirs_rcvd;
}

bool kex_tx_blocked(const struct ssh *s)
{
	return s->kex != NULL && s->kex->ours_sent && !s->kex->newkeys_sent;
}

bool kex_running(const struct ssh *s)
{
	return s->kex != NULL;
}

void kex_free(struct kex *k)
{
	if (k == NULL)
		return;
	sbuf_free(&k->i_s);
	sbuf_free(&k->i_c);
	cipher_free(k->next_rx);
	freezero(k, sizeof(*k));
}

/* Host key algorithm names for a key: RSA keys sign with SHA-2 only. */
static const char *hostkey_algs(const struct ssh_key *k)
{
	return ssh_alg_for_key(k);
}

/* The host key algorithms we offer, NUL-terminated in list: those of the configured list (in
 * its order) that one of our keys can sign with. */
static void hostkey_offer(const struct ssh *s, struct sbuf *list)
{
	const char *p = ssh_alg_list(s, SSH_ALG_HOSTKEY);

	while (*p) {
		size_t n = strcspn(p, ",");
		for (size_t i = 0; i < s->cfg.n_host_keys; i++) {
			if (alg_list_has(hostkey_algs(s->cfg.host_keys[i]), (const uint8_t *)p,
					 n)) {
				if (list->len)
					sbuf_put_u8(list, ',');
				sbuf_put(list, p, n);
				break;
			}
		}
		p += n + (p[n] == ',');
	}
	sbuf_put_u8(list, 0);
}

/* A name-list from ours, with extra (a name, or NULL) after it. */
static void put_list(struct sbuf *b, const char *ours, const char *extra)
{
	size_t n = strlen(ours);

	if (extra == NULL) {
		sbuf_put_string(b, ours, n);
		return;
	}
	sbuf_put_u32(b, (uint32_t)(n + 1 + strlen(extra)));
	sbuf_put(b, ours, n);
	sbuf_put_u8(b, ',');
	sbuf_put(b, extra, strlen(extra));
}

/* Sends our KEXINIT and starts a key exchange (at connection start, on re-key, or in answer to
 * the peer's KEXINIT). */
void kex_send_kexinit(struct ssh *s)
{
	if (s->kex == NULL) {
		s->kex = xcalloc(1, sizeof(*s->kex));
		s->kex->first = s->session_id_len == 0;
	}
	struct kex *k = s->kex;
	struct sbuf *b = &k->i_s;
	struct sbuf hk = {0};
	uint8_t cookie[16];

	RAND_bytes(cookie, sizeof(cookie));
	sbuf_put_u8(b, MSG_KEXINIT);
	sbuf_put(b, cookie, sizeof(cookie));
	put_list(b, ssh_alg_list(s, SSH_ALG_KEX), k->first ? KEX_STRICT_S : NULL);
	hostkey_offer(s, &hk);
	sbuf_put_cstring(b, (const char *)hk.data);
	sbuf_free(&hk);
	sbuf_put_cstring(b, ssh_alg_list(s, SSH_ALG_CIPHER));
	sbuf_put_cstring(b, ssh_alg_list(s, SSH_ALG_CIPHER));
	sbuf_put_cstring(b, ssh_alg_list(s, SSH_ALG_MAC));
	sbuf_put_cstring(b, ssh_alg_list(s, SSH_ALG_MAC));
	sbuf_put_cstring(b, "none");
	sbuf_put_cstring(b, "none");
	sbuf_put_cstring(b, "");
	sbuf_put_cstring(b, "");
	sbuf_put_u8(b, 0);
	sbuf_put_u32(b, 0);
	k->ours_sent = true;
	struct sbuf *pkt = pkt_begin(s, MSG_KEXINIT);
	sbuf_put(pkt, b->data + 1, b->len - 1);
	pkt_end(s);
}

/* Walks the client's name-list in order and returns the first name we also offer (RFC 4253
 * §7.1: the client's preference wins) and, when known is not NULL, also support: a
 * configured list only holds supported names, but the engine does not rely on its host for
 * that. *first tells whether it was the client's first choice. */
static bool pick_known(const uint8_t *clist, size_t clen, const char *ours, const char *known,
		       const uint8_t **name, size_t *nlen, bool *first)
{
	size_t off = 0;
	bool is_first = true;

	while (off < clen) {
		const uint8_t *e = memchr(clist + off, ',', clen - off);
		size_t n = e ? (size_t)(e - (clist + off)) : clen - off;
		if (alg_list_has(ours, clist + off, n) &&
		    (known == NULL || alg_list_has(known, clist + off, n))) {
			*name = clist + off;
			*nlen = n;
			if (first)
				*first = is_first;
			return true;
		}
		is_first = false;
		off += n + 1;
	}
	return false;
}

static bool pick(const uint8_t *clist, size_t clen, const char *ours, const uint8_t **name,
		 size_t *nlen, bool *first)
{
	return pick_known(clist, clen, ours, NULL, name, nlen, first);
}

static bool list_has_bytes(const uint8_t *clist, size_t clen, const char *name)
{
	const uint8_t *found;
	size_t n;

	return pick(clist, clen, name, &found, &n, NULL);
}

/* The client's first host key algorithm that we offer, and the key that signs with it. */
static bool pick_hostkey(struct ssh *s, const uint8_t *clist, size_t clen, bool *first)
{
	struct sbuf offer = {0};
	const uint8_t *name;
	size_t n;
	bool found = false;

	hostkey_offer(s, &offer);
	if (pick(clist, clen, (const char *)offer.data, &name, &n, first) &&
	    n < sizeof(s->kex->hostkey_alg)) {
		for (size_t i = 0; i < s->cfg.n_host_keys && !found; i++) {
			if (!alg_list_has(hostkey_algs(s->cfg.host_keys[i]), name, n))
				continue;
			s->kex->hostkey = s->cfg.host_keys[i];
			memcpy(s->kex->hostkey_alg, name, n);
			s->kex->hostkey_alg[n] = '\0';
			found = true;
		}
	}
	sbuf_free(&offer);
	return found;
}

/* Picks the cipher and, unless it is an AEAD, the MAC of one direction. Returns NULL or
 * which list had no name in common (for the DISCONNECT text). */
static const char *pick_enc(const struct ssh *s, const uint8_t *l, size_t n,
			    const struct cipher_info **ci, const uint8_t *ml, size_t mn,
			    const struct mac_info **mi)
{
	const uint8_t *name;
	size_t len;

	if (!pick_known(l, n, ssh_alg_list(s, SSH_ALG_CIPHER), cipher_supported_list(), &name, &len,
			NULL))
		return "no matching cipher";
	*ci = cipher_find((const char *)name, len);
	if ((*ci)->tag_len)
		return NULL; /* AEAD: the MAC list is not negotiated (PROTOCOL §1.6) */
	if (!pick_known(ml, mn, ssh_alg_list(s, SSH_ALG_MAC), mac_supported_list(), &name, &len,
			NULL))
		return "no matching MAC";
	*mi = mac_find((const char *)name, len);
	return NULL;
}

/* True when name (n bytes) is the first name of list. */
static bool is_first_of(const char *list, const char *name, size_t n)
{
	return strncmp(list, name, n) == 0 && (list[n] == ',' || list[n] == '\0');
}

/* Negotiates every algorithm from the client's name-lists l[0..7] (RFC 4253 §7.1), in the
 * order OpenSSH checks them. *kex_first and *hk_first tell whether the key exchange method
 * and the host key algorithm are both sides' first choice (what a first_kex_packet_follows
 * guess must have hit: RFC 4253 §7, OpenSSH's proposals_match). Returns NULL, or which list had no
 * name in common: "no matching key exchange method", "... host key type", "... cipher", "... MAC",
 * "... compression method" (OpenSSH's texts without "found"). */
static const char *negotiate_lists(struct ssh *s, const uint8_t *const l[10], const size_t ln[10],
				   bool *kex_first, bool *hk_first)
{
	struct kex *k = s->kex;
	const uint8_t *name;
	size_t len;
	const char *why;

	if (!pick_known(l[0], ln[0], ssh_alg_list(s, SSH_ALG_KEX), ssh_alg_supported(SSH_ALG_KEX),
			&name, &len, kex_first) ||
	    (k->method = kex_method_find_n(name, len)) == NULL)
		return "no matching key exchange method";
	*kex_first =
		*kex_first && is_first_of(ssh_alg_list(s, SSH_ALG_KEX), (const char *)name, len);
	if (!pick_hostkey(s, l[1], ln[1], hk_first))
		return "no matching host key type";
	struct sbuf hk = {0};
	hostkey_offer(s, &hk);
	*hk_first = *hk_first &&
		    is_first_of((const char *)hk.data, k->hostkey_alg, strlen(k->hostkey_alg));
	sbuf_free(&hk);
	if ((why = pick_enc(s, l[2], ln[2], &k->enc_c2s, l[4], ln[4], &k->mac_c2s)) != NULL ||
	    (why = pick_enc(s, l[3], ln[3], &k->enc_s2c, l[5], ln[5], &k->mac_s2c)) != NULL)
		return why;
	if (!pick(l[6], ln[6], "none", &name, &len, NULL) ||
	    !pick(l[7], ln[7], "none", &name, &len, NULL))
		return "no matching compression method";
	return NULL;
}

/* Parses the client's KEXINIT and negotiates every algorithm. Returns false on failure
 * (the session has been failed). */
static bool negotiate(struct ssh *s, const uint8_t *p, size_t n)
{
	struct kex *k = s->kex;
	struct sreader r;
	const uint8_t *l[10];
	size_t ln[10];
	bool kex_first = true, hk_first = true;

	sreader_init(&r, p + 1, n - 1);
	sreader_bytes(&r, 16);
	for (int i = 0; i < 10; i++)
		l[i] = sreader_string(&r, &ln[i]);
	bool follows = sreader_bool(&r);
	sreader_u32(&r);
	if (!sreader_end(&r)) { /* OpenSSH: sshpkt_get_end in kex_input_kexinit */
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad KEXINIT");
		return false;
	}
	if (k->first) {
		s->strict_kex = list_has_bytes(l[0], ln[0], KEX_STRICT_C);
		s->ext_info_c = list_has_bytes(l[0], ln[0], "ext-info-c");
		if (s->strict_kex && s->rx_packets != 1) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "strict KEX: KEXINIT not first");
			return false;
		}
	}
	const char *why = negotiate_lists(s, l, ln, &kex_first, &hk_first);
	if (why != NULL) {
		ssh_fail(s, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, why);
		return false;
	}
	/* RFC 4253 §7: a wrongly guessed first kex packet is ignored. The guess is right only
	 * when both sides put the same method and host key algorithm first; a client (dropbear)
	 * whose first choice we pick but do not prefer sends its packet again. */
	s->ignore_next_kex_packet = follows && !(kex_first && hk_first);
	return true;
}

void kex_recv_kexinit(struct ssh *s, const uint8_t *p, size_t n)
{
	if (s->kex == NULL)
		kex_send_kexinit(s);
	if (s->kex->theirs_rcvd) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "unexpected KEXINIT");
		return;
	}
	s->kex->theirs_rcvd = true;
	sbuf_put(&s->kex->i_c, p, n);
	negotiate(s, p, n);
}

/* One derived key (RFC 4253 §7.2): HASH(K || H || letter || session_id), extended with
 * HASH(K || H || K1 || ...) until `need` bytes. kenc is K as the method encodes it (mpint or
 * string); HASH is the method's (its output is hlen bytes long, like H). */
static int derive(const struct ssh *s, const EVP_MD *hash, const struct sbuf *kenc,
		  const uint8_t *h, size_t hlen, char letter, uint8_t *out, size_t need)
{
	uint8_t buf[128];
	size_t have = 0;
	int ret = -1;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || hash == NULL || need > sizeof(buf) - hlen)
		goto out;
	while (have < need) {
		if (EVP_DigestInit_ex(md, hash, NULL) != 1 ||
		    EVP_DigestUpdate(md, kenc->data, kenc->len) != 1 ||
		    EVP_DigestUpdate(md, h, hlen) != 1)
			goto out;
		if (have == 0) {
			if (EVP_DigestUpdate(md, &letter, 1) != 1 ||
			    EVP_DigestUpdate(md, s->session_id, s->session_id_len) != 1)
				goto out;
		} else if (EVP_DigestUpdate(md, buf, have) != 1) {
			goto out;
		}
		if (EVP_DigestFinal_ex(md, buf + have, NULL) != 1)
			goto out;
		have += hlen;
	}
	memcpy(out, buf, need);
	ret = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_MD_CTX_free(md);
	return ret;
}

/* Derives both directions' keys; the outgoing cipher is returned, the incoming one is kept
 * until the client's NEWKEYS. */
static struct pkt_cipher *make_ciphers(struct ssh *s, const EVP_MD *hash, const struct sbuf *kenc,
				       const uint8_t *h, size_t hlen)
{
	struct kex *k = s->kex;
	uint8_t iv[2][64], key[2][64], mac[2][64];
	struct pkt_cipher *tx = NULL;
	const struct cipher_info *ci[2] = {k->enc_c2s, k->enc_s2c};
	const struct mac_info *mi[2] = {k->mac_c2s, k->mac_s2c};

	for (int d = 0; d < 2; d++) {
		if (derive(s, hash, kenc, h, hlen, (char)('A' + d), iv[d],
			   ci[d]->iv_len ? ci[d]->iv_len : 1) ||
		    derive(s, hash, kenc, h, hlen, (char)('C' + d), key[d], ci[d]->key_len) ||
		    derive(s, hash, kenc, h, hlen, (char)('E' + d), mac[d],
			   mi[d] ? mi[d]->key_len : 1))
			goto out;
	}
	k->next_rx = cipher_new(s->cfg.crypto, ci[0], mi[0], key[0], iv[0], mac[0], false);
	tx = cipher_new(s->cfg.crypto, ci[1], mi[1], key[1], iv[1], mac[1], true);
out:
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	if (k->next_rx == NULL) {
		cipher_free(tx);
		tx = NULL;
	}
	return tx;
}

/* H = HASH(V_C || V_S || I_C || I_S || K_S || string C_INIT || string S_REPLY || K)
 * (RFC 4253 §8, RFC 5656 §4, RFC 8731 §3, RFC 9941, draft-ietf-sshm-mlkem-hybrid-kex): an
 * mpint e or f is the same bytes as a string of its body. h gets hlen bytes. Returns 0, or
 * -1 if libcrypto fails (hash NULL included). */
static int exchange_hash(struct ssh *s, const EVP_MD *hash, const uint8_t *c_init, size_t clen,
			 const struct sbuf *reply, const struct sbuf *kenc, uint8_t *h)
{
	struct kex *k = s->kex;
	struct sbuf b = {0};
	size_t blob_len;
	const uint8_t *blob = ssh_key_blob(k->hostkey, &blob_len);

	sbuf_put_cstring(&b, s->client_version);
	sbuf_put_cstring(&b, ssh_version_string());
	sbuf_put_string(&b, k->i_c.data, k->i_c.len);
	sbuf_put_string(&b, k->i_s.data, k->i_s.len);
	sbuf_put_string(&b, blob, blob_len);
	sbuf_put_string(&b, c_init, clen);
	sbuf_put_string(&b, reply->data, reply->len);
	sbuf_put(&b, kenc->data, kenc->len);
	int ok = hash != NULL && EVP_Digest(b.data, b.len, h, NULL, hash, NULL) == 1;
	sbuf_free(&b);
	return ok ? 0 : -1;
}

static void send_ext_info(struct ssh *s)
{
	struct sbuf *b = pkt_begin(s, MSG_EXT_INFO);

	sbuf_put_u32(b, 1);
	sbuf_put_cstring(b, "server-sig-algs");
	sbuf_put_cstring(b, SIG_ALGS);
	pkt_end(s);
}

/* Sends KEX_ECDH_REPLY (S_REPLY in reply) and NEWKEYS, switching our outgoing keys. */
static void send_reply(struct ssh *s, const struct sbuf *reply, const uint8_t *h, size_t hlen,
		       struct pkt_cipher *tx)
{
	struct kex *k = s->kex;
	uint8_t *sig = NULL;
	size_t siglen, blob_len;
	const uint8_t *blob = ssh_key_blob(k->hostkey, &blob_len);
	const char *alg = ssh_key_type(k->hostkey) == SSH_KEY_RSA ? k->hostkey_alg : NULL;

	if (ssh_key_sign(k->hostkey, alg, h, hlen, &sig, &siglen) != 0) {
		cipher_free(tx);
		ssh_fail(s, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "host key signature failed");
		return;
	}
	struct sbuf *b = pkt_begin(s, MSG_KEX_ECDH_REPLY);
	sbuf_put_string(b, blob, blob_len);
	sbuf_put_string(b, reply->data, reply->len);
	sbuf_put_string(b, sig, siglen);
	pkt_end(s);
	free(sig);
	pkt_begin(s, MSG_NEWKEYS);
	pkt_end(s);
	cipher_free(s->tx);
	s->tx = tx;
	if (s->strict_kex)
		s->tx_seq = 0;
	k->newkeys_sent = true;
	if (k->first && s->ext_info_c)
		send_ext_info(s);
	transport_flush_deferred(s);
}

/* H and the keys from K, with the method's hash. Returns the outgoing cipher or NULL. */
static struct pkt_cipher *kex_finish(struct ssh *s, const uint8_t *c_init, size_t clen,
				     const struct sbuf *reply, const struct sbuf *kenc, uint8_t *h,
				     size_t hlen)
{
	struct kex *k = s->kex;
	EVP_MD *fresh;
	const EVP_MD *hash = crypto_md(s->cfg.crypto, (enum crypto_md)k->method->hash, &fresh);
	struct pkt_cipher *tx = NULL;

	if (exchange_hash(s, hash, c_init, clen, reply, kenc, h) == 0) {
		if (k->first) {
			memcpy(s->session_id, h, hlen);
			s->session_id_len = hlen;
		}
		tx = make_ciphers(s, hash, kenc, h, hlen);
	}
	EVP_MD_free(fresh);
	return tx;
}

/* KEX_ECDH_INIT (and KEXDH_INIT, the same number and shape): the method checks C_INIT and
 * computes S_REPLY and K; then the exchange hash, the keys, and the answer: KEX_ECDH_REPLY
 * and NEWKEYS (send_reply). A bad C_INIT fails the session with KEY_EXCHANGE_FAILED. */
void kex_recv_ecdh_init(struct ssh *s, const uint8_t *p, size_t n)
{
	struct kex *k = s->kex;
	struct sreader r;
	size_t clen, hlen;
	uint8_t h[64];
	struct sbuf reply = {0}, kenc = {0};
	struct pkt_cipher *tx = NULL;

	if (k == NULL || !k->theirs_rcvd || k->newkeys_sent || k->method == NULL) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "unexpected KEX_ECDH_INIT");
		return;
	}
	sreader_init(&r, p + 1, n - 1);
	const uint8_t *c_init = sreader_string(&r, &clen);
	if (!sreader_end(&r) ||
	    k->method->server_reply(s->cfg.crypto, c_init, clen, &reply, &kenc) != KEX_OK) {
		sbuf_free(&reply);
		sbuf_free(&kenc);
		ssh_fail(s, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "bad key exchange value");
		return;
	}
	hlen = kex_hash_len(k->method->hash);
	tx = kex_finish(s, c_init, clen, &reply, &kenc, h, hlen);
	sbuf_free(&kenc);
	if (tx == NULL) {
		sbuf_free(&reply);
		ssh_fail(s, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "key setup failed");
		return;
	}
	send_reply(s, &reply, h, hlen, tx);
	sbuf_free(&reply);
	OPENSSL_cleanse(h, sizeof(h));
}

bool kex_recv_newkeys(struct ssh *s, size_t n)
{
	struct kex *k = s->kex;

	if (k == NULL || !k->newkeys_sent) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "unexpected NEWKEYS");
		return false;
	}
	if (n != 1) { /* nothing after the message number (OpenSSH: kex_input_newkeys) */
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad NEWKEYS");
		return false;
	}
	cipher_free(s->rx);
	s->rx = k->next_rx;
	k->next_rx = NULL;
	if (s->strict_kex)
		s->rx_seq = 0;
	if (s->state == ST_KEX)
		s->state = ST_SERVICE;
	s->kex_bytes = 0;
	kex_free(k);
	s->kex = NULL;
	conn_after_kex(s);
	return true;
}
