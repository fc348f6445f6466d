/* The SSH engine after the key exchange: a small, correct client built into the harness runs
 * a real curve25519 key exchange with the engine (and, if asked, a signed publickey login),
 * then seals the fuzzer's messages with the negotiated cipher, so the fuzz reaches the
 * encrypted-packet paths, SERVICE_REQUEST, USERAUTH_REQUEST and the whole connection protocol
 * (channel open/data/EOF/close, window adjust, global and channel requests), plus re-keys
 * started by either side in the middle of all that.
 *
 * The client also checks the engine's output: every packet it sends must decrypt and
 * authenticate, have legal padding, and nothing but transport/kex messages may be sent between
 * the server's KEXINIT and its NEWKEYS; the host key signature must verify. A failure of any
 * of these is reported as a crash (FUZZ_CHECK).
 *
 * Input: one flags byte, then records.
 *   flags bits 0-2  cipher: chacha20-poly1305, aes128-gcm, aes256-gcm,
 * aes128-ctr+hmac-sha2-256-etm, aes256-ctr+hmac-sha2-512-etm, aes128-ctr+hmac-sha2-512-etm (value
 * mod 6) bits 3-4  host key algorithm: ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512, rsa-sha2-256
 *         bit 5     log in (SERVICE_REQUEST + signed publickey request) before the records
 *         bit 6     don't offer strict KEX
 *         bit 7     server re-keys after every 1 KiB (rekey_bytes)
 *   record: u16 big-endian length, then that many payload bytes, sent as one sealed packet
 *           (payload[0] is the message number; a zero length sends an empty packet). Lengths:
 *           0xFFFF  the client starts a re-key;   0xFFFE  ssh_rekey() (the server starts one)
 *           0xFFFD  u16 n, then n bytes fed unsealed (garbage on the encrypted stream)
 * Engine events are answered from their content: auth accepted when the user name starts
 * with 'a', direct-tcpip opens confirmed when the port is odd (policy_check permitting),
 * received data echoed back and consumed, EOF answered with EOF and CLOSE. */
#include <stdbool.h>

#include <openssl/evp.h>

#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "channel_direct_tcpip.h"
#include "policy.h"
#include "ssh/buf.h"
#include "ssh/cipher.h"
#include "ssh/internal.h"
#include "ssh/ssh.h"

#define CLIENT_BANNER "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
#define CLIENT_USER   "alice"

struct client {
	struct ssh *s;
	bool setup;  /* true until the fuzzer's records start */
	bool closed; /* DISCONNECT event seen */
	/* algorithms */
	const struct cipher_info *ci;
	const struct mac_info *mi;
	const char *hk_alg;
	const struct ssh_key *hostkey;
	bool offer_strict;
	bool strict;
	/* our packet protection (client to server) */
	struct pkt_cipher *tx;
	uint32_t tx_seq;
	/* reading the server's output */
	struct sbuf in;
	size_t in_off;
	bool banner_seen;
	bool rx_lost; /* the fuzzer ran a key exchange we can't follow */
	struct pkt_cipher *rx;
	uint32_t rx_seq;
	struct pkt_cipher *next_rx; /* installed at the server's NEWKEYS */
	bool server_in_kex;	    /* between the server's KEXINIT and NEWKEYS */
	bool need_kex;		    /* the server sent KEXINIT: answer it */
	bool in_kex;		    /* client_kex running */
	struct sbuf i_s;	    /* the server's KEXINIT payload (current exchange) */
	bool have_i_s;
	bool have_reply; /* the server's KEX_ECDH_REPLY was handled */
	bool newkeys_seen;
	EVP_PKEY *eph; /* our X25519 key for the running exchange */
	uint8_t q_c[32];
	struct sbuf i_c;    /* our KEXINIT payload (running exchange) */
	unsigned seen[256]; /* messages received from the server */
	/* answers the harness gives later, like a server waiting on a connect */
	struct ssh_channel *pending[8];
	bool auth_deferred;
	uint8_t session_id[32];
	bool have_session_id;
};

static struct ssh_key *host_keys[3];
static struct ssh_key *client_key;
static struct ssh_crypto *crypto; /* one for the process, as a server has one per loop */

static const struct {
	const char *cipher;
	const char *mac;
} algs[] = {
	{"chacha20-poly1305@openssh.com", NULL},
	{"aes128-gcm@openssh.com", NULL},
	{"aes256-gcm@openssh.com", NULL},
	{"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
	{"aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
	{"aes128-ctr", "hmac-sha2-512-etm@openssh.com"},
};

static const char *const hk_algs[] = {"ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512",
				      "rsa-sha2-256"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	host_keys[0] = fuzz_load_key(fuzz_host_ed25519);
	host_keys[1] = fuzz_load_key(fuzz_host_ecdsa256);
	host_keys[2] = fuzz_load_key(fuzz_host_rsa1024);
	client_key = fuzz_load_key(fuzz_client_ed25519);
	crypto = ssh_crypto_new();
	return 0;
}

/* ---- client to server ---- */

/* Frames, pads and seals one packet exactly as RFC 4253 §6 (and the cipher's spec) ask, and
 * feeds it to the engine. */
static void client_send(struct client *c, const uint8_t *payload, size_t len)
{
	size_t block = c->tx ? cipher_block(c->tx) : 8;
	size_t tag = c->tx ? cipher_tag_len(c->tx) : 0;
	size_t base = (c->tx ? 1 : 5) + len;
	size_t pad = block - base % block;
	if (pad < 4)
		pad += block;
	size_t n = 5 + len + pad;
	uint8_t *pkt = calloc(1, n + tag);

	put_u32be(pkt, (uint32_t)(n - 4));
	pkt[4] = (uint8_t)pad;
	if (len)
		memcpy(pkt + 5, payload, len);
	if (c->tx)
		FUZZ_CHECK(cipher_seal(c->tx, c->tx_seq, pkt, n, pkt + n) == 0);
	c->tx_seq++;
	ssh_feed(c->s, pkt, n + tag);
	free(pkt);
}

static void client_send_sbuf(struct client *c, const struct sbuf *b)
{
	client_send(c, b->data, b->len);
}

/* ---- engine events ---- */

static bool defer_channel(struct client *c, struct ssh_channel *ch)
{
	for (size_t i = 0; i < 8; i++) {
		if (c->pending[i] == NULL) {
			c->pending[i] = ch;
			return true;
		}
	}
	return false;
}

/* The answers held back by on_event, given now (the engine accepts them at any time). */
static void answer_deferred(struct client *c)
{
	if (c->auth_deferred) {
		c->auth_deferred = false;
		ssh_auth_accept(c->s);
	}
	for (size_t i = 0; i < 8; i++) {
		if (c->pending[i]) {
			ssh_channel_confirm(c->s, c->pending[i]);
			c->pending[i] = NULL;
		}
	}
}

static void on_event(struct client *c, struct ssh_event *ev)
{
	struct ssh *s = c->s;

	switch (ev->type) {
	case SSH_EV_AUTH_REQUEST:
		FUZZ_CHECK(ev->user != NULL && ev->key != NULL && ev->method != NULL);
		FUZZ_CHECK(!ev->sig_ok || ev->has_sig);
		if (c->setup)
			FUZZ_CHECK(ev->has_sig && ev->sig_ok);
		if (ev->user[0] == 'd')
			c->auth_deferred = true; /* answered before the next record */
		else if (ev->user[0] == 'a')
			ssh_auth_accept(s);
		else
			ssh_auth_reject(s);
		break;
	case SSH_EV_AUTH_REFUSED:
		FUZZ_CHECK(ev->user != NULL && ev->method != NULL);
		break;
	case SSH_EV_CHANNEL_OPEN: {
		FUZZ_CHECK(ev->ch != NULL && ev->chan_type != NULL);
		FUZZ_CHECK(ssh_authenticated(s));
		/* The test src/channel.c makes: it must agree with what the engine parsed (a type
		 * "direct-tcpip\0..." once read as direct-tcpip here with host NULL; seed
		 * corpus/fuzz_ssh_session/chan-type-embedded-nul). */
		bool direct = strcmp(ev->chan_type, "direct-tcpip") == 0;
		struct tcpip_open req;
		FUZZ_CHECK(ev->type_len == 0 || ev->type_data != NULL);
		if (direct && tcpip_parse_open(ev->type_data, ev->type_len, &req) == 0) {
			if (req.port % 2 == 1 &&
			    policy_check(req.host, req.host_len, req.port) == POLICY_ALLOW) {
				ssh_channel_set_user(ev->ch, c);
				FUZZ_CHECK(ssh_channel_user(ev->ch) == c);
				if (req.port % 4 == 3 && defer_channel(c, ev->ch))
					break; /* confirmed before the next record */
				ssh_channel_confirm(s, ev->ch);
				break;
			}
		}
		ssh_channel_refuse(s, ev->ch,
				   direct ? SSH_OPEN_CONNECT_FAILED : SSH_OPEN_UNKNOWN_CHANNEL_TYPE,
				   "refused");
		break;
	}
	case SSH_EV_CHANNEL_DATA:
		FUZZ_CHECK(ev->ch != NULL && ev->len > 0 && ev->data != NULL);
		FUZZ_CHECK(ssh_channel_user(ev->ch) == c);
		/* Echo what fits (like a relay whose target answers at once), then hand the
		 * window back for what was taken. */
		ssh_channel_write(s, ev->ch, ev->data, ev->len);
		ssh_channel_consumed(s, ev->ch, ev->len);
		break;
	case SSH_EV_CHANNEL_EOF:
		ssh_channel_send_eof(s, ev->ch);
		ssh_channel_close(s, ev->ch);
		break;
	case SSH_EV_CHANNEL_WINDOW: {
		static const uint8_t more[64];
		ssh_channel_write(s, ev->ch, more, sizeof(more));
		break;
	}
	case SSH_EV_CHANNEL_CLOSE:
		FUZZ_CHECK(ev->ch != NULL);
		for (size_t i = 0; i < 8; i++) {
			if (c->pending[i] == ev->ch)
				c->pending[i] = NULL; /* gone: never answer it */
		}
		break;
	case SSH_EV_GLOBAL_REQUEST:
		FUZZ_CHECK(ev->name != NULL);
		break;
	case SSH_EV_DISCONNECT:
		FUZZ_CHECK(ev->text != NULL && ssh_closed(s));
		c->closed = true;
		break;
	default:
		break;
	}
}

/* ---- key exchange, client side (RFC 4253 §7-8, RFC 8731) ---- */

static void put_kexinit(struct client *c, struct sbuf *b)
{
	const char *mac = c->mi ? c->mi->name : "hmac-sha2-256-etm@openssh.com";

	sbuf_put_u8(b, MSG_KEXINIT);
	sbuf_put(b, "0123456789abcdef", 16);
	if (!c->have_session_id && c->offer_strict)
		sbuf_put_cstring(b, "curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com");
	else if (!c->have_session_id)
		sbuf_put_cstring(b, "curve25519-sha256,ext-info-c");
	else
		sbuf_put_cstring(b, "curve25519-sha256");
	sbuf_put_cstring(b, c->hk_alg);
	sbuf_put_cstring(b, c->ci->name);
	sbuf_put_cstring(b, c->ci->name);
	sbuf_put_cstring(b, mac);
	sbuf_put_cstring(b, mac);
	sbuf_put_cstring(b, "none");
	sbuf_put_cstring(b, "none");
	sbuf_put_cstring(b, "");
	sbuf_put_cstring(b, "");
	sbuf_put_u8(b, 0);
	sbuf_put_u32(b, 0);
}

/* HASH(K || H || letter || session_id), extended as RFC 4253 §7.2 says. */
static void derive(const struct client *c, const struct sbuf *kmp, const uint8_t h[32], char letter,
		   uint8_t *out, size_t need)
{
	uint8_t buf[128];
	size_t have = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	FUZZ_CHECK(md != NULL && need <= 96);
	while (have < need) {
		FUZZ_CHECK(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
		EVP_DigestUpdate(md, kmp->data, kmp->len);
		EVP_DigestUpdate(md, h, 32);
		if (have == 0) {
			EVP_DigestUpdate(md, &letter, 1);
			EVP_DigestUpdate(md, c->session_id, 32);
		} else {
			EVP_DigestUpdate(md, buf, have);
		}
		FUZZ_CHECK(EVP_DigestFinal_ex(md, buf + have, NULL) == 1);
		have += 32;
	}
	memcpy(out, buf, need);
	EVP_MD_CTX_free(md);
}

/* Checks the server's KEX_ECDH_REPLY (p, n), computes H and the keys, sends our NEWKEYS and
 * switches our outgoing keys. The incoming ones wait for the server's NEWKEYS. */
static void finish_kex(struct client *c, const uint8_t *p, size_t n)
{
	struct sreader r;
	size_t kslen, qslen, siglen;
	const struct sbuf *i_c = &c->i_c;
	const uint8_t *q_c = c->q_c;

	FUZZ_CHECK(c->have_i_s);
	sreader_init(&r, p + 1, n - 1);
	const uint8_t *ks = sreader_string(&r, &kslen);
	const uint8_t *q_s = sreader_string(&r, &qslen);
	const uint8_t *sig = sreader_string(&r, &siglen);
	FUZZ_CHECK(!r.err && sreader_left(&r) == 0 && qslen == 32);

	/* The host key must be the one we asked for. */
	struct ssh_key *k = NULL;
	FUZZ_CHECK(ssh_key_from_blob(ks, kslen, &k) == 0);
	FUZZ_CHECK(ssh_key_equal(k, c->hostkey));

	/* K = X25519(our secret, Q_S), as an mpint. */
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, q_s, 32);
	EVP_PKEY_CTX *dctx = EVP_PKEY_CTX_new(c->eph, NULL);
	uint8_t secret[32];
	size_t slen = sizeof(secret);
	FUZZ_CHECK(peer && dctx && EVP_PKEY_derive_init(dctx) == 1 &&
		   EVP_PKEY_derive_set_peer(dctx, peer) == 1 &&
		   EVP_PKEY_derive(dctx, secret, &slen) == 1 && slen == 32);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(peer);
	struct sbuf kmp = {0};
	sbuf_put_mpint(&kmp, secret, 32);

	/* H = SHA256(V_C || V_S || I_C || I_S || K_S || Q_C || Q_S || K) */
	struct sbuf hb = {0};
	uint8_t h[32];
	sbuf_put_cstring(&hb, CLIENT_BANNER);
	sbuf_put_cstring(&hb, ssh_version_string());
	sbuf_put_string(&hb, i_c->data, i_c->len);
	sbuf_put_string(&hb, c->i_s.data, c->i_s.len);
	sbuf_put_string(&hb, ks, kslen);
	sbuf_put_string(&hb, q_c, 32);
	sbuf_put_string(&hb, q_s, 32);
	sbuf_put(&hb, kmp.data, kmp.len);
	FUZZ_CHECK(EVP_Digest(hb.data, hb.len, h, NULL, EVP_sha256(), NULL) == 1);
	sbuf_free(&hb);

	FUZZ_CHECK(ssh_key_verify(k, c->hk_alg, strlen(c->hk_alg), sig, siglen, h, 32) == 0);
	ssh_key_free(k);
	if (!c->have_session_id) {
		memcpy(c->session_id, h, 32);
		c->have_session_id = true;
	}

	uint8_t iv[2][64], key[2][64], mac[2][64];
	for (int d = 0; d < 2; d++) {
		derive(c, &kmp, h, (char)('A' + d), iv[d], c->ci->iv_len ? c->ci->iv_len : 1);
		derive(c, &kmp, h, (char)('C' + d), key[d], c->ci->key_len);
		derive(c, &kmp, h, (char)('E' + d), mac[d], c->mi ? c->mi->key_len : 1);
	}
	sbuf_free(&kmp);
	/* c2s is ours to seal with, s2c decrypts what the server sends after its NEWKEYS. */
	struct pkt_cipher *tx = cipher_new(NULL, c->ci, c->mi, key[0], iv[0], mac[0], true);
	cipher_free(c->next_rx);
	c->next_rx = cipher_new(NULL, c->ci, c->mi, key[1], iv[1], mac[1], false);
	FUZZ_CHECK(tx != NULL && c->next_rx != NULL);

	/* Our NEWKEYS goes out under the old keys; everything after it under the new. */
	uint8_t nk = MSG_NEWKEYS;
	client_send(c, &nk, 1);
	cipher_free(c->tx);
	c->tx = tx;
	if (c->strict)
		c->tx_seq = 0;
	c->have_reply = true;
}

/* ---- server to client ---- */

/* Handles one decrypted message from the server. */
static void on_server_msg(struct client *c, const uint8_t *p, size_t n)
{
	uint8_t msg = p[0];

	c->seen[msg]++;
	if (c->server_in_kex) {
		/* RFC 4253 §7.1: only transport and kex messages until NEWKEYS. */
		FUZZ_CHECK(msg < MSG_SERVICE_REQUEST || msg == MSG_UNIMPLEMENTED ||
			   (msg >= MSG_KEXINIT && msg <= 49));
	}
	switch (msg) {
	case MSG_KEXINIT:
		FUZZ_CHECK(!c->server_in_kex);
		c->server_in_kex = true;
		sbuf_reset(&c->i_s);
		sbuf_put(&c->i_s, p, n);
		c->have_i_s = true;
		if (!c->in_kex)
			c->need_kex = true;
		break;
	case MSG_KEX_ECDH_REPLY:
		if (!c->in_kex || c->have_reply) {
			/* The fuzzer sent its own KEX_ECDH_INIT: we can't know the keys. */
			c->rx_lost = true;
			break;
		}
		finish_kex(c, p, n);
		break;
	case MSG_NEWKEYS:
		FUZZ_CHECK(c->server_in_kex);
		c->server_in_kex = false;
		c->newkeys_seen = true;
		FUZZ_CHECK(c->next_rx != NULL);
		cipher_free(c->rx);
		c->rx = c->next_rx;
		c->next_rx = NULL;
		if (c->strict)
			c->rx_seq = 0;
		break;
	default:
		break;
	}
}

/* Takes the engine's output and parses every whole packet in it. */
static void client_read(struct client *c)
{
	size_t n;
	const uint8_t *out = ssh_out_data(c->s, &n);

	if (n > 0) {
		sbuf_put(&c->in, out, n);
		ssh_out_consume(c->s, n);
	}
	if (!c->banner_seen) {
		if (c->in.len == 0)
			return;
		uint8_t *nl = memchr(c->in.data, '\n', c->in.len);
		if (nl == NULL)
			return;
		size_t blen = (size_t)(nl - c->in.data) + 1;
		const char *v = ssh_version_string();
		FUZZ_CHECK(blen == strlen(v) + 2 && memcmp(c->in.data, v, strlen(v)) == 0);
		c->in_off = blen;
		c->banner_seen = true;
	}
	while (!c->rx_lost) {
		uint8_t *p = c->in.data + c->in_off;
		size_t avail = c->in.len - c->in_off;
		if (avail < 4)
			break;
		uint32_t len = c->rx ? cipher_peek_len(c->rx, c->rx_seq, p) : get_u32be(p);
		size_t block = c->rx ? cipher_block(c->rx) : 8;
		size_t tag = c->rx ? cipher_tag_len(c->rx) : 0;
		FUZZ_CHECK(len >= 8 && len <= 512 * 1024);
		FUZZ_CHECK((c->rx ? len : len + 4) % block == 0);
		if (avail < 4 + (size_t)len + tag)
			break;
		if (c->rx)
			FUZZ_CHECK(cipher_open(c->rx, c->rx_seq, p, 4 + len, p + 4 + len) == 0);
		uint8_t pad = p[4];
		FUZZ_CHECK(pad >= 4 && (size_t)pad + 2 <= len);
		c->in_off += 4 + len + tag;
		c->rx_seq++;
		on_server_msg(c, p + 5, len - pad - 1);
	}
	if (c->in_off == c->in.len || c->rx_lost) {
		sbuf_reset(&c->in);
		c->in_off = 0;
	}
}

/* Runs the engine until it has nothing more to say: events answered, output read. */
static void client_pump(struct client *c)
{
	struct ssh_event ev;
	int guard = 0;

	for (;;) {
		bool any = false;
		while (ssh_next_event(c->s, &ev)) {
			on_event(c, &ev);
			any = true;
			FUZZ_CHECK(++guard < 100000);
		}
		size_t n;
		ssh_out_data(c->s, &n);
		if (!any && n == 0)
			break;
		client_read(c);
	}
}

/* One whole key exchange, started by us or in answer to the server's KEXINIT. Returns false
 * if the session ended or the fuzzer's messages derailed it. */
static bool client_kex(struct client *c)
{
	struct sbuf b = {0};
	size_t qlen = sizeof(c->q_c);

	c->need_kex = false;
	c->in_kex = true;
	c->have_reply = false;
	c->newkeys_seen = false;
	if (!c->server_in_kex)
		c->have_i_s = false;
	if (!c->have_session_id)
		c->strict = c->offer_strict; /* the engine offers it in its first KEXINIT */
	c->eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	FUZZ_CHECK(c->eph && EVP_PKEY_get_raw_public_key(c->eph, c->q_c, &qlen) == 1 && qlen == 32);

	sbuf_reset(&c->i_c);
	put_kexinit(c, &c->i_c);
	client_send_sbuf(c, &c->i_c);
	sbuf_put_u8(&b, MSG_KEX_ECDH_INIT);
	sbuf_put_string(&b, c->q_c, 32);
	client_send_sbuf(c, &b);
	sbuf_free(&b);
	client_pump(c); /* the reply is handled as it arrives (on_server_msg) */
	EVP_PKEY_free(c->eph);
	c->eph = NULL;
	c->in_kex = false;
	return c->newkeys_seen && !c->closed;
}

/* Pumps and answers server-started key exchanges until things are quiet. */
static void client_sync(struct client *c)
{
	client_pump(c);
	for (int i = 0; c->need_kex && !c->closed && !c->rx_lost && i < 8; i++)
		client_kex(c);
}

/* ---- login ---- */

static void client_login(struct client *c)
{
	struct sbuf b = {0}, data = {0};
	size_t bloblen, siglen;
	const uint8_t *blob = ssh_key_blob(client_key, &bloblen);
	uint8_t *sig = NULL;

	sbuf_put_u8(&b, MSG_SERVICE_REQUEST);
	sbuf_put_cstring(&b, "ssh-userauth");
	client_send_sbuf(c, &b);
	client_sync(c);
	FUZZ_CHECK(c->seen[MSG_SERVICE_ACCEPT] == 1);

	/* RFC 4252 §7: the signature covers string session_id || the request so far. */
	sbuf_reset(&b);
	sbuf_put_u8(&b, MSG_USERAUTH_REQUEST);
	sbuf_put_cstring(&b, CLIENT_USER);
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, "publickey");
	sbuf_put_u8(&b, 1);
	sbuf_put_cstring(&b, "ssh-ed25519");
	sbuf_put_string(&b, blob, bloblen);
	sbuf_put_string(&data, c->session_id, 32);
	sbuf_put(&data, b.data, b.len);
	FUZZ_CHECK(ssh_key_sign(client_key, NULL, data.data, data.len, &sig, &siglen) == 0);
	sbuf_put_string(&b, sig, siglen);
	client_send_sbuf(c, &b);
	client_sync(c);
	FUZZ_CHECK(ssh_authenticated(c->s) && c->seen[MSG_USERAUTH_SUCCESS] == 1);
	free(sig);
	sbuf_free(&b);
	sbuf_free(&data);
}

/* ---- the fuzzer's records ---- */

static size_t take_u16(const uint8_t **p, size_t *left)
{
	if (*left < 2) {
		*left = 0;
		return 0;
	}
	size_t v = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	return v;
}

static void run_records(struct client *c, const uint8_t *p, size_t left)
{
	while (left > 0 && !c->closed) {
		answer_deferred(c);
		size_t len = take_u16(&p, &left);
		if (left == 0 && len != 0xFFFF && len != 0xFFFE)
			break;
		if (len == 0xFFFF) {
			if (!c->rx_lost)
				client_kex(c);
		} else if (len == 0xFFFE) {
			ssh_rekey(c->s);
		} else if (len == 0xFFFD) {
			size_t n = take_u16(&p, &left);
			n = n < left ? n : left;
			ssh_feed(c->s, p, n);
			p += n;
			left -= n;
		} else {
			len = len < left ? len : left;
			client_send(c, p, len);
			p += len;
			left -= len;
		}
		client_sync(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	struct ssh_config cfg = {.host_keys = host_keys, .n_host_keys = 3, .crypto = crypto};
	if (flags & 0x80)
		cfg.rekey_bytes = 1024;
	/* Small windows and packets so the fuzzer reaches their limits. */
	cfg.window = 4096;
	cfg.max_packet = 1024;
	cfg.out_limit = 8192;
	cfg.max_channels = 8;

	struct client c = {0};
	size_t a = (flags & 7) % (sizeof(algs) / sizeof(algs[0]));
	c.ci = cipher_find(algs[a].cipher, strlen(algs[a].cipher));
	c.mi = algs[a].mac ? mac_find(algs[a].mac, strlen(algs[a].mac)) : NULL;
	c.hk_alg = hk_algs[(flags >> 3) & 3];
	c.hostkey = host_keys[((flags >> 3) & 3) >= 2 ? 2 : (flags >> 3) & 3]; /* 2, 3: RSA */
	c.offer_strict = !(flags & 0x40);
	FUZZ_CHECK(c.ci != NULL && (c.ci->tag_len || c.mi != NULL));
	c.setup = true;
	c.s = ssh_new(&cfg);

	ssh_feed(c.s, CLIENT_BANNER "\r\n", strlen(CLIENT_BANNER) + 2);
	FUZZ_CHECK(client_kex(&c));
	FUZZ_CHECK(!ssh_closed(c.s) && c.rx != NULL && c.tx != NULL);
	if (flags & 0x20)
		client_login(&c);
	c.setup = false;

	run_records(&c, data + 1, size - 1);
	answer_deferred(&c);
	client_sync(&c);

	ssh_free(c.s);
	cipher_free(c.tx);
	cipher_free(c.rx);
	cipher_free(c.next_rx);
	sbuf_free(&c.in);
	sbuf_free(&c.i_s);
	sbuf_free(&c.i_c);
	return 0;
}
