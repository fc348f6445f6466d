/* A minimal in-memory SSH-2 client for the engine's tests; see sshtest_client.h. This file has
 * the framing, the key exchange and the receiving side; sshtest_msgs.c builds the messages.
 * The key exchange, key derivation and framing here are written from RFC 4253/8731
 * independently of src/ssh/kex*.c and transport.c (each method's client half is in
 * sshtest_kex.c); only the packet ciphers (cipher.c, checked
 * against known answers in test_cipher.c) and the key module are shared with the engine. */
#include "sshtest_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TC_MAX_PACKET (300 * 1024)

void tc_fail(struct tc *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

void tc_init(struct tc *c, const struct tc_opts *o, const struct ssh_key *expect_hostkey)
{
	memset(c, 0, sizeof(*c));
	if (o != NULL)
		c->o = *o;
	if (c->o.version == NULL)
		c->o.version = "SSH-2.0-sshtest_1";
	if (c->o.eol == NULL)
		c->o.eol = "\r\n";
	if (c->o.kex == NULL)
		c->o.kex = TC_KEX_DEFAULT;
	if (c->o.hostkey == NULL)
		c->o.hostkey = "ssh-ed25519";
	if (c->o.enc_c2s == NULL)
		c->o.enc_c2s = TC_ENC_DEFAULT;
	if (c->o.enc_s2c == NULL)
		c->o.enc_s2c = TC_ENC_DEFAULT;
	if (c->o.mac_c2s == NULL)
		c->o.mac_c2s = TC_MAC_DEFAULT;
	if (c->o.mac_s2c == NULL)
		c->o.mac_s2c = TC_MAC_DEFAULT;
	if (c->o.comp == NULL)
		c->o.comp = "none";
	c->expect_hostkey = expect_hostkey;
}

void tc_free(struct tc *c)
{
	struct sbuf m;

	while (tc_pop(c, &m))
		sbuf_free(&m);
	sbuf_free(&c->out);
	sbuf_free(&c->in);
	sbuf_free(&c->i_c);
	sbuf_free(&c->i_s);
	sbuf_free(&c->deferred);
	cipher_free(c->tx);
	cipher_free(c->rx);
	cipher_free(c->next_rx);
	tc_kex_free(c->kx);
	sbuf_free(&c->c_init);
	memset(c, 0, sizeof(*c));
}

/* ---- framing ---- */

size_t tc_padlen(const struct tc *c, size_t n)
{
	size_t block = c->tx ? cipher_block(c->tx) : 8;
	/* With AEAD and EtM the length field is outside the alignment, in the clear and with
	 * encrypt-and-MAC (hmac-sha2-256/512) inside it. */
	size_t base = cipher_len_aligned(c->tx) ? 5 + n : 1 + n;
	size_t pad = block - base % block;

	return pad < 4 ? pad + block : pad;
}

void tc_send_raw(struct tc *c, uint32_t len_field, const uint8_t *body, size_t bodylen)
{
	size_t tag = cipher_tag_len(c->tx);
	size_t start = c->out.len;
	uint8_t *p = sbuf_append_space(&c->out, 4 + bodylen + tag);

	put_u32be(p, len_field);
	memcpy(p + 4, body, bodylen);
	if (c->tx != NULL && cipher_seal(c->tx, c->tx_seq, c->out.data + start, 4 + bodylen,
					 c->out.data + start + 4 + bodylen) != 0)
		tc_fail(c, "cipher_seal failed");
	c->tx_seq++;
}

void tc_send_now(struct tc *c, const uint8_t *payload, size_t n)
{
	size_t pad = tc_padlen(c, n);
	uint8_t *body = malloc(1 + n + pad);

	body[0] = (uint8_t)pad;
	memcpy(body + 1, payload, n);
	for (size_t i = 0; i < pad; i++)
		body[1 + n + i] = (uint8_t)(i * 37 + 11);
	tc_send_raw(c, (uint32_t)(1 + n + pad), body, 1 + n + pad);
	free(body);
	c->tx_bytes += n;
}

/* Transport messages (1..49 except the service ones) go out during a key exchange. */
static bool tc_is_kex_safe(uint8_t msg)
{
	return msg < TC_USERAUTH_REQUEST && msg != TC_SERVICE_REQUEST && msg != TC_SERVICE_ACCEPT;
}

void tc_send(struct tc *c, const uint8_t *payload, size_t n)
{
	if (c->in_kex && !tc_is_kex_safe(payload[0])) {
		sbuf_put_string(&c->deferred, payload, n);
		return;
	}
	tc_send_now(c, payload, n);
}

void tc_send_sbuf(struct tc *c, struct sbuf *payload)
{
	tc_send(c, payload->data, payload->len);
	sbuf_free(payload);
}

void tc_out_consume(struct tc *c, size_t n)
{
	sbuf_consume(&c->out, n);
}

static void tc_flush_deferred(struct tc *c)
{
	struct sbuf held = c->deferred;
	struct sreader r;

	memset(&c->deferred, 0, sizeof(c->deferred));
	sreader_init(&r, held.data, held.len);
	while (sreader_left(&r) > 0) {
		size_t n;
		const uint8_t *p = sreader_string(&r, &n);
		tc_send_now(c, p, n);
	}
	sbuf_free(&held);
}

/* ---- key exchange (RFC 4253 §7-8, RFC 8731) ---- */

static void tc_put_kexinit(struct tc *c, struct sbuf *b, bool first)
{
	uint8_t cookie[16];

	for (int i = 0; i < 16; i++)
		cookie[i] = (uint8_t)(0xc0 + i);
	sbuf_put_u8(b, TC_KEXINIT);
	sbuf_put(b, cookie, 16);
	sbuf_put_cstring(b, c->o.kex);
	sbuf_put_cstring(b, c->o.hostkey);
	sbuf_put_cstring(b, c->o.enc_c2s);
	sbuf_put_cstring(b, c->o.enc_s2c);
	sbuf_put_cstring(b, c->o.mac_c2s);
	sbuf_put_cstring(b, c->o.mac_s2c);
	sbuf_put_cstring(b, c->o.comp);
	sbuf_put_cstring(b, c->o.comp);
	sbuf_put_cstring(b, "");
	sbuf_put_cstring(b, "");
	sbuf_put_u8(b, first && c->o.guess_follows);
	sbuf_put_u32(b, 0);
}

static void tc_send_ecdh_init(struct tc *c, bool garbage)
{
	struct sbuf b = {0};

	if (garbage) {
		sbuf_put_u8(&b, TC_ECDH_INIT);
		sbuf_put_cstring(&b, "this is a wrongly guessed key exchange packet");
		tc_send_now(c, b.data, b.len);
		sbuf_free(&b);
		return;
	}
	tc_kex_free(c->kx);
	sbuf_free(&c->c_init);
	if (tc_kex_start(c->kex_alg, &c->kx, &c->c_init) != 0) {
		tc_fail(c, "key generation for %s failed", c->kex_alg);
		return;
	}
	sbuf_put_u8(&b, TC_ECDH_INIT);
	sbuf_put_string(&b, c->c_init.data, c->c_init.len);
	tc_send_now(c, b.data, b.len);
	sbuf_free(&b);
	c->ecdh_sent = true;
}

static void tc_send_kexinit(struct tc *c)
{
	bool first = !c->have_session_id;

	sbuf_free(&c->i_c);
	tc_put_kexinit(c, &c->i_c, first);
	tc_send_now(c, c->i_c.data, c->i_c.len);
	c->in_kex = true;
	c->ecdh_sent = false;
	if (first && c->o.guess_follows) {
		/* The guess is our first method. */
		size_t n = strcspn(c->o.kex, ",");
		snprintf(c->kex_alg, sizeof(c->kex_alg), "%.*s", (int)n, c->o.kex);
		tc_send_ecdh_init(c, c->o.guess_garbage);
	}
}

void tc_send_version(struct tc *c)
{
	snprintf(c->client_version, sizeof(c->client_version), "%s", c->o.version);
	sbuf_put(&c->out, c->o.version, strlen(c->o.version));
	sbuf_put(&c->out, c->o.eol, strlen(c->o.eol));
}

void tc_start(struct tc *c)
{
	tc_send_version(c);
	tc_send_kexinit(c);
}

void tc_rekey(struct tc *c)
{
	if (!c->in_kex)
		tc_send_kexinit(c);
}

static bool tc_list_has(const uint8_t *list, size_t len, const char *name)
{
	size_t nl = strlen(name), off = 0;

	while (off <= len) {
		const uint8_t *e = memchr(list + off, ',', len - off);
		size_t n = e ? (size_t)(e - list - off) : len - off;
		if (n == nl && memcmp(list + off, name, n) == 0)
			return true;
		if (e == NULL)
			break;
		off += n + 1;
	}
	return false;
}

/* The first name of ours (the client's list) that the server also has (RFC 4253 §7.1). */
static bool tc_choose(const char *ours, const uint8_t *theirs, size_t tlen, char *out,
		      size_t outlen)
{
	const char *p = ours;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n < outlen) {
			memcpy(out, p, n);
			out[n] = '\0';
			if (tc_list_has(theirs, tlen, out))
				return true;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

/* True when ours (a C list) and theirs (a name-list) start with the same name. */
static bool tc_first_is(const char *ours, const uint8_t *theirs, size_t tlen)
{
	const char *e = strchr(ours, ',');
	size_t n = e ? (size_t)(e - ours) : strlen(ours);

	return n <= tlen && memcmp(ours, theirs, n) == 0 && (n == tlen || theirs[n] == ',');
}

static void tc_recv_kexinit(struct tc *c, const uint8_t *p, size_t n)
{
	struct sreader r;
	const uint8_t *l[10];
	size_t ln[10];
	char name[64];
	bool first = !c->have_session_id;

	if (c->peer_in_kex) {
		tc_fail(c, "second KEXINIT from the server during one key exchange");
		return;
	}
	c->peer_in_kex = true;
	c->kexinit_rcvd++;
	sbuf_free(&c->i_s);
	sbuf_put(&c->i_s, p, n);
	sreader_init(&r, p + 1, n - 1);
	sreader_bytes(&r, 16);
	for (int i = 0; i < 10; i++)
		l[i] = sreader_string(&r, &ln[i]);
	bool follows = sreader_bool(&r);
	sreader_u32(&r);
	if (r.err || sreader_left(&r) != 0 || follows) {
		tc_fail(c, "bad server KEXINIT");
		return;
	}
	if (first)
		c->strict = tc_list_has(l[0], ln[0], "kex-strict-s-v00@openssh.com") &&
			    strstr(c->o.kex, "kex-strict-c-v00@openssh.com") != NULL;
	else if (tc_list_has(l[0], ln[0], "kex-strict-s-v00@openssh.com"))
		tc_fail(c, "kex-strict-s in a re-key KEXINIT");
	if (!tc_choose(c->o.kex, l[0], ln[0], c->kex_alg, sizeof(c->kex_alg)) ||
	    !tc_kex_known(c->kex_alg) ||
	    !tc_choose(c->o.hostkey, l[1], ln[1], c->hostkey_alg, sizeof(c->hostkey_alg))) {
		tc_fail(c, "no common kex or host key algorithm");
		return;
	}
	const char *enc[2] = {c->o.enc_c2s, c->o.enc_s2c};
	const char *mac[2] = {c->o.mac_c2s, c->o.mac_s2c};
	for (int d = 0; d < 2; d++) {
		if (!tc_choose(enc[d], l[2 + d], ln[2 + d], name, sizeof(name))) {
			tc_fail(c, "no common cipher");
			return;
		}
		c->enc[d] = cipher_find(name, strlen(name));
		c->mac[d] = NULL;
		if (c->enc[d] == NULL) { /* a name the test told us to offer, cipher.c lacks */
			tc_fail(c, "no cipher %s", name);
			return;
		}
		if (c->enc[d]->tag_len == 0) {
			if (!tc_choose(mac[d], l[4 + d], ln[4 + d], name, sizeof(name)) ||
			    (c->mac[d] = mac_find(name, strlen(name))) == NULL) {
				tc_fail(c, "no common MAC");
				return;
			}
		}
	}
	if (!tc_list_has(l[6], ln[6], "none") || !tc_list_has(l[7], ln[7], "none")) {
		tc_fail(c, "server requires compression");
		return;
	}
	if (!c->in_kex)
		tc_send_kexinit(c); /* a server-initiated re-key */
	/* RFC 4253 §7: a guess is right only when both sides' first kex and host key algorithms
	 * are the same; otherwise the server ignored it and it is sent again. */
	if (first && c->o.guess_follows && c->ecdh_sent &&
	    !(tc_first_is(c->o.kex, l[0], ln[0]) && tc_first_is(c->o.hostkey, l[1], ln[1])))
		c->ecdh_sent = false;
	if (!c->ecdh_sent)
		tc_send_ecdh_init(c, false);
}

/* K as an SSH mpint, from X25519's big-endian 32 bytes (RFC 8731 §3). */
void tc_put_mpint(struct sbuf *b, const uint8_t *k, size_t n)
{
	while (n > 0 && k[0] == 0) {
		k++;
		n--;
	}
	bool pad = n > 0 && (k[0] & 0x80);
	sbuf_put_u32(b, (uint32_t)(n + pad));
	if (pad)
		sbuf_put_u8(b, 0);
	sbuf_put(b, k, n);
}

/* RFC 4253 §7.2: HASH(K || H || letter || session_id), extended with HASH(K || H || K1..);
 * K as the method encodes it, HASH the method's (hlen bytes, like H). */
static void tc_derive(struct tc *c, const struct sbuf *kenc, const uint8_t *h, size_t hlen,
		      char letter, uint8_t *out, size_t need)
{
	struct sbuf b = {0};
	uint8_t acc[192];
	size_t have = 0;

	while (have < need) {
		sbuf_reset(&b);
		sbuf_put(&b, kenc->data, kenc->len);
		sbuf_put(&b, h, hlen);
		if (have == 0) {
			sbuf_put_u8(&b, (uint8_t)letter);
			sbuf_put(&b, c->session_id, c->session_id_len);
		} else {
			sbuf_put(&b, acc, have);
		}
		EVP_Digest(b.data, b.len, acc + have, NULL, tc_kex_md(c->kex_alg), NULL);
		have += hlen;
	}
	memcpy(out, acc, need);
	sbuf_free(&b);
	OPENSSL_cleanse(acc, sizeof(acc));
}

/* H (RFC 4253 §8): V_C, V_S, I_C, I_S, K_S, C_INIT, S_REPLY, then K as encoded. */
static size_t tc_exchange_hash(struct tc *c, const uint8_t *ks, size_t kslen, const uint8_t *q_s,
			       size_t qlen, const struct sbuf *kenc, uint8_t h[64])
{
	struct sbuf hb = {0};
	unsigned int hlen = 0;

	sbuf_put_cstring(&hb, c->client_version);
	sbuf_put_cstring(&hb, c->server_version);
	sbuf_put_string(&hb, c->i_c.data, c->i_c.len);
	sbuf_put_string(&hb, c->i_s.data, c->i_s.len);
	sbuf_put_string(&hb, ks, kslen);
	sbuf_put_string(&hb, c->c_init.data, c->c_init.len);
	sbuf_put_string(&hb, q_s, qlen);
	sbuf_put(&hb, kenc->data, kenc->len);
	EVP_Digest(hb.data, hb.len, h, &hlen, tc_kex_md(c->kex_alg), NULL);
	sbuf_free(&hb);
	return hlen;
}

/* Both directions' keys from K and H; sends NEWKEYS and switches our outgoing keys. */
static void tc_new_keys(struct tc *c, const struct sbuf *kenc, const uint8_t *h, size_t hlen)
{
	uint8_t iv[2][64], key[2][64], mk[2][64];

	for (int d = 0; d < 2; d++) {
		tc_derive(c, kenc, h, hlen, (char)('A' + d), iv[d], 64);
		tc_derive(c, kenc, h, hlen, (char)('C' + d), key[d], 64);
		tc_derive(c, kenc, h, hlen, (char)('E' + d), mk[d], 64);
	}
	struct pkt_cipher *tx = cipher_new(NULL, c->enc[0], c->mac[0], key[0], iv[0], mk[0], true);
	cipher_free(c->next_rx);
	c->next_rx = cipher_new(NULL, c->enc[1], c->mac[1], key[1], iv[1], mk[1], false);
	OPENSSL_cleanse(key, sizeof(key));
	if (tx == NULL || c->next_rx == NULL) {
		cipher_free(tx);
		tc_fail(c, "cipher_new failed");
		return;
	}
	uint8_t nk = TC_NEWKEYS;
	tc_send_now(c, &nk, 1);
	cipher_free(c->tx);
	c->tx = tx;
	if (c->strict && !c->o.no_seq_reset)
		c->tx_seq = 0;
	c->in_kex = false;
	tc_flush_deferred(c);
}

static void tc_recv_ecdh_reply(struct tc *c, const uint8_t *p, size_t n)
{
	struct sreader r;
	size_t kslen, qlen, siglen, hlen;
	uint8_t h[64];
	struct ssh_key *hk = NULL;
	struct sbuf kenc = {0};

	sreader_init(&r, p + 1, n - 1);
	const uint8_t *ks = sreader_string(&r, &kslen);
	const uint8_t *q_s = sreader_string(&r, &qlen);
	const uint8_t *sig = sreader_string(&r, &siglen);
	if (!c->ecdh_sent || c->kx == NULL || r.err || sreader_left(&r) != 0) {
		tc_fail(c, "bad KEX_ECDH_REPLY");
		return;
	}
	if (tc_kex_finish(c->kx, q_s, qlen, &kenc) != 0) {
		tc_fail(c, "%s: bad server reply", c->kex_alg);
		goto out;
	}
	hlen = tc_exchange_hash(c, ks, kslen, q_s, qlen, &kenc, h);
	if (ssh_key_from_blob(ks, kslen, &hk) != 0 ||
	    (c->expect_hostkey != NULL && !ssh_key_equal(hk, c->expect_hostkey))) {
		tc_fail(c, "unexpected host key");
		goto out;
	}
	if (ssh_key_verify(hk, c->hostkey_alg, strlen(c->hostkey_alg), sig, siglen, h, hlen) != 0) {
		tc_fail(c, "host key signature does not verify");
		goto out;
	}
	if (!c->have_session_id) {
		memcpy(c->session_id, h, hlen);
		c->session_id_len = hlen;
		c->have_session_id = true;
	}
	tc_new_keys(c, &kenc, h, hlen);
out:
	ssh_key_free(hk);
	sbuf_free(&kenc);
}

static void tc_recv_newkeys(struct tc *c)
{
	if (c->next_rx == NULL) {
		tc_fail(c, "NEWKEYS before KEX_ECDH_REPLY");
		return;
	}
	cipher_free(c->rx);
	c->rx = c->next_rx;
	c->next_rx = NULL;
	if (c->strict)
		c->rx_seq = 0;
	c->peer_in_kex = false;
	c->kex_count++;
	c->tx_bytes = c->rx_bytes = 0;
	tc_kex_free(c->kx);
	c->kx = NULL;
}

static void tc_recv_ext_info(struct tc *c, const uint8_t *p, size_t n)
{
	struct sreader r;
	size_t kl, vl;

	sreader_init(&r, p + 1, n - 1);
	uint32_t count = sreader_u32(&r);
	for (uint32_t i = 0; i < count && !r.err; i++) {
		const uint8_t *k = sreader_string(&r, &kl);
		const uint8_t *v = sreader_string(&r, &vl);
		if (!r.err && sreader_string_eq(k, kl, "server-sig-algs") &&
		    vl < sizeof(c->server_sig_algs)) {
			memcpy(c->server_sig_algs, v, vl);
			c->server_sig_algs[vl] = '\0';
		}
	}
	if (r.err)
		tc_fail(c, "bad EXT_INFO");
	if (c->kex_count != 1 || c->rx_packets != 4) /* KEXINIT, ECDH_REPLY, NEWKEYS, EXT_INFO */
		tc_fail(c, "EXT_INFO is not the packet right after the first NEWKEYS");
	c->ext_info++;
}

/* ---- receiving ---- */

static void tc_queue(struct tc *c, const uint8_t *p, size_t n)
{
	struct tc_msg *m = malloc(sizeof(*m) + n);

	m->next = NULL;
	m->len = n;
	memcpy(m->data, p, n);
	if (c->q_tail)
		c->q_tail->next = m;
	else
		c->q_head = m;
	c->q_tail = m;
}

bool tc_pop(struct tc *c, struct sbuf *m)
{
	struct tc_msg *h = c->q_head;

	memset(m, 0, sizeof(*m));
	if (h == NULL)
		return false;
	c->q_head = h->next;
	if (c->q_head == NULL)
		c->q_tail = NULL;
	sbuf_put(m, h->data, h->len);
	free(h);
	return true;
}

size_t tc_queued(const struct tc *c)
{
	size_t n = 0;

	for (const struct tc_msg *m = c->q_head; m; m = m->next)
		n++;
	return n;
}

static void tc_dispatch(struct tc *c, const uint8_t *p, size_t n)
{
	uint8_t msg = p[0];

	c->rx_packets++;
	if (c->rx_packets == 1 && msg != TC_KEXINIT)
		tc_fail(c, "the server's first packet is %u, not KEXINIT", msg);
	if (c->strict && c->kex_count == 0 && msg != TC_KEXINIT && msg != TC_ECDH_REPLY &&
	    msg != TC_NEWKEYS && msg != TC_DISCONNECT)
		tc_fail(c, "strict KEX: server sent %u during the first key exchange", msg);
	if (c->peer_in_kex && !tc_is_kex_safe(msg))
		c->conn_in_kex++;
	switch (msg) {
	case TC_KEXINIT:
		tc_recv_kexinit(c, p, n);
		return;
	case TC_ECDH_REPLY:
		tc_recv_ecdh_reply(c, p, n);
		return;
	case TC_NEWKEYS:
		tc_recv_newkeys(c);
		return;
	case TC_EXT_INFO:
		tc_recv_ext_info(c, p, n);
		return;
	case TC_IGNORE:
	case TC_DEBUG:
		return;
	default:
		c->rx_bytes += n;
		tc_queue(c, p, n);
		return;
	}
}

static int tc_read_version(struct tc *c)
{
	uint8_t *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;

	if (nl == NULL)
		return 0;
	size_t len = (size_t)(nl - c->in.data);
	if (len > 0 && c->in.data[len - 1] == '\r')
		len--;
	if (len >= sizeof(c->server_version) || len < 8 || memcmp(c->in.data, "SSH-2.0-", 8)) {
		tc_fail(c, "bad server identification");
		return -1;
	}
	memcpy(c->server_version, c->in.data, len);
	c->server_version[len] = '\0';
	sbuf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
	c->version_done = true;
	return 1;
}

/* One packet off c->in: 1 done, 0 need more, -1 error. */
static int tc_read_packet(struct tc *c)
{
	size_t tag = cipher_tag_len(c->rx);
	size_t block = c->rx ? cipher_block(c->rx) : 8;

	if (c->in.len < cipher_len_bytes(c->rx))
		return 0;
	/* Encrypt-and-MAC decrypts the first block in place: only once per packet. */
	if (c->rx_len == 0)
		c->rx_len = cipher_peek_len(c->rx, c->rx_seq, c->in.data);
	uint32_t len = c->rx_len;
	if (len < 8 || len > TC_MAX_PACKET ||
	    (cipher_len_aligned(c->rx) ? len + 4 : len) % block != 0) {
		tc_fail(c, "bad packet length %u from the server", len);
		return -1;
	}
	if (c->in.len < 4 + (size_t)len + tag)
		return 0;
	if (c->rx != NULL &&
	    cipher_open(c->rx, c->rx_seq, c->in.data, 4 + len, c->in.data + 4 + len) != 0) {
		tc_fail(c, "bad MAC on server packet (seq %u)", c->rx_seq);
		return -1;
	}
	c->rx_len = 0;
	uint8_t padlen = c->in.data[4];
	if (padlen < 4 || (size_t)padlen + 2 > len) {
		tc_fail(c, "bad padding from the server");
		return -1;
	}
	c->rx_seq++;
	size_t plen = len - padlen - 1;
	uint8_t *payload = malloc(plen);
	memcpy(payload, c->in.data + 5, plen);
	sbuf_consume(&c->in, 4 + len + tag);
	tc_dispatch(c, payload, plen);
	free(payload);
	return 1; /* a protocol complaint (c->err) does not stop the parsing */
}

int tc_input(struct tc *c, const uint8_t *p, size_t n)
{
	int r;

	if (c->dead)
		return -1;
	sbuf_put(&c->in, p, n);
	if (!c->version_done && (r = tc_read_version(c)) <= 0) {
		c->dead = r < 0;
		return r;
	}
	while ((r = tc_read_packet(c)) > 0)
		;
	if (r == 0 && c->in.len == 0)
		sbuf_free(&c->in);
	c->dead = r < 0; /* the byte stream is lost after a bad packet */
	return c->err[0] ? -1 : 0;
}
