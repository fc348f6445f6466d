/* SSH transport layer (RFC 4253): identification lines, the binary packet protocol, message
 * dispatch to the key exchange, user auth and connection layers, and disconnects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "../xmalloc.h"
#include "cipher.h"
#include "internal.h"
#include "key.h"

#ifndef ALKNET_VERSION
#define ALKNET_VERSION "0"
#endif

#define SSH_BANNER "SSH-2.0-alknet_" ALKNET_VERSION

const char *ssh_version_string(void)
{
	return SSH_BANNER;
}

struct ssh *ssh_new(const struct ssh_config *cfg)
{
	struct ssh *s = xcalloc(1, sizeof(*s));

	s->cfg = *cfg;
	if (s->cfg.window == 0)
		s->cfg.window = 2 * 1024 * 1024;
	if (s->cfg.max_packet == 0)
		s->cfg.max_packet = 32 * 1024;
	if (s->cfg.out_limit == 0)
		s->cfg.out_limit = 1024 * 1024;
	if (s->cfg.rekey_bytes == 0)
		s->cfg.rekey_bytes = (uint64_t)1 << 30;
	if (s->cfg.max_channels == 0)
		s->cfg.max_channels = 4096;
	if (RAND_bytes((uint8_t *)&s->pad_state, sizeof(s->pad_state)) != 1 || s->pad_state == 0)
		s->pad_state = 0x9e3779b97f4a7c15ULL;
	s->state = ST_VERSION;
	sbuf_put(&s->out, SSH_BANNER "\r\n", strlen(SSH_BANNER) + 2);
	kex_send_kexinit(s);
	return s;
}

void ssh_free(struct ssh *s)
{
	if (s == NULL)
		return;
	conn_free_all(s);
	userauth_free(s);
	kex_free(s->kex);
	cipher_free(s->rx);
	cipher_free(s->tx);
	sbuf_free(&s->in);
	sbuf_free(&s->out);
	sbuf_free(&s->deferred);
	sbuf_free(&s->scratch);
	sbuf_free(&s->discard);
	free(s->client_version);
	freezero(s, sizeof(*s));
}

/* Makes room for at least one chunk; the buffer is compacted first so it never grows past one
 * packet plus one chunk. */
uint8_t *ssh_in_space(struct ssh *s, size_t *avail)
{
	if (s->in_off > 0 && (s->in_off == s->in.len || s->in.cap - s->in.len < SSH_IN_CHUNK)) {
		memmove(s->in.data, s->in.data + s->in_off, s->in.len - s->in_off);
		s->in.len -= s->in_off;
		s->in_off = 0;
	}
	size_t want = SSH_IN_CHUNK;
	if (s->rx_len && (size_t)s->rx_len + 4 + 64 > s->in.len - s->in_off)
		want = s->rx_len + 4 + 64 - (s->in.len - s->in_off);
	if (want < SSH_IN_CHUNK)
		want = SSH_IN_CHUNK;
	sbuf_reserve(&s->in, want);
	*avail = s->in.cap - s->in.len;
	return s->in.data + s->in.len;
}

void ssh_in_commit(struct ssh *s, size_t n)
{
	s->in.len += n;
}

void ssh_feed(struct ssh *s, const void *data, size_t len)
{
	while (len > 0) {
		size_t avail;
		uint8_t *p = ssh_in_space(s, &avail);
		size_t n = len < avail ? len : avail;
		memcpy(p, data, n);
		ssh_in_commit(s, n);
		data = (const uint8_t *)data + n;
		len -= n;
	}
}

/* Idle sessions hold no input buffer. */
static void release_in(struct ssh *s)
{
	if (!s->in_pinned && s->in_off == s->in.len && s->in.data != NULL) {
		free(s->in.data);
		s->in.data = NULL;
		s->in.len = s->in.cap = 0;
		s->in_off = 0;
	}
}

void ssh_in_pin(struct ssh *s, bool pin)
{
	s->in_pinned = pin;
	if (!pin)
		release_in(s);
}

const uint8_t *ssh_out_data(const struct ssh *s, size_t *len)
{
	*len = s->out.len - s->out_off;
	return *len ? s->out.data + s->out_off : (const uint8_t *)"";
}

void ssh_out_consume(struct ssh *s, size_t n)
{
	s->out_off += n;
	if (s->out_off >= s->out.len) {
		free(s->out.data);
		s->out.data = NULL;
		s->out.len = s->out.cap = 0;
		s->out_off = 0;
	} else if (s->out_off > 64 * 1024 && s->out_off * 2 > s->out.len) {
		memmove(s->out.data, s->out.data + s->out_off, s->out.len - s->out_off);
		s->out.len -= s->out_off;
		s->out_off = 0;
	}
}

bool ssh_out_full(const struct ssh *s)
{
	return s->out.len - s->out_off >= s->cfg.out_limit;
}

bool ssh_out_low(const struct ssh *s)
{
	return s->out.len - s->out_off < s->cfg.out_limit / 2;
}

bool ssh_authenticated(const struct ssh *s)
{
	return s->state == ST_CONNECTED;
}

bool ssh_closed(const struct ssh *s)
{
	return s->state == ST_CLOSED;
}

const char *scratch_str(struct ssh *s, const uint8_t *p, size_t n)
{
	/* Pointers into scratch must stay valid for the whole event: reserve once, up front. */
	if (s->scratch.cap == 0)
		sbuf_reserve(&s->scratch, 1536);
	size_t off = s->scratch.len;
	sbuf_put(&s->scratch, p, n);
	sbuf_put_u8(&s->scratch, 0);
	return (const char *)s->scratch.data + off;
}

static uint8_t pad_byte(struct ssh *s)
{
	uint64_t x = s->pad_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	s->pad_state = x;
	return (uint8_t)x;
}

/* Starts a packet with message number msg and returns the buffer to append the rest of the
 * payload to; pkt_end() finishes it. Connection-layer messages are held back while our
 * KEXINIT is outstanding (RFC 4253 §7.1) and sent after NEWKEYS. */
struct sbuf *pkt_begin(struct ssh *s, uint8_t msg)
{
	if (s->state == ST_CLOSED) {
		sbuf_reset(&s->discard);
		s->pkt_buf = &s->discard;
	} else if ((msg >= MSG_USERAUTH_REQUEST || msg == MSG_SERVICE_ACCEPT) &&
		   kex_tx_blocked(s)) {
		s->pkt_buf = &s->deferred;
		s->pkt_start = s->deferred.len;
		sbuf_put_u32(&s->deferred, 0);
	} else {
		s->pkt_buf = &s->out;
		s->pkt_start = s->out.len;
		sbuf_append_space(&s->out, 5);
	}
	sbuf_put_u8(s->pkt_buf, msg);
	return s->pkt_buf;
}

static size_t pad_len(const struct ssh *s, size_t payload)
{
	size_t block = cipher_block(s->tx);
	size_t base = (cipher_len_aligned(s->tx) ? 5 : 1) + payload;
	size_t pad = block - base % block;

	return pad < 4 ? pad + block : pad;
}

size_t transport_packet_size(const struct ssh *s, size_t payload)
{
	return 5 + payload + pad_len(s, payload) + cipher_tag_len(s->tx);
}

/* Whether a sequence number may wrap around to 0 (RFC 4253 §6.4 says it does). Not during the
 * first key exchange, where only a peer shifting the numbers with extra packets (Terrapin,
 * CVE-2023-48795) could make it wrap: OpenSSH ends the session there too (packet.c:
 * "sequence number wrapped during initial key exchange"). Not under strict KEX either: the
 * numbers restart at every NEWKEYS, so a wrap means 2^32 packets under one set of keys, and
 * chacha20-poly1305 uses the number as its nonce. After a first exchange without strict KEX
 * the number wraps on as the RFC says (OpenSSH logs "seqnr wraps around" and goes on). */
static bool seq_wrap_fatal(const struct ssh *s)
{
	return s->state <= ST_KEX || s->strict_kex;
}

/* Pads and seals, in place, the packet whose payload is out.data[start + 5 ..][0..payload);
 * the room for padding and tag must be there. Returns the packet's size on the wire, or 0
 * if encryption failed (the session has been failed). */
size_t transport_seal_at(struct ssh *s, size_t start, size_t payload)
{
	size_t pad = pad_len(s, payload);
	size_t tag_len = cipher_tag_len(s->tx);
	uint8_t *pkt = s->out.data + start;
	size_t n = 5 + payload + pad;

	if (s->tx == NULL) {
		/* In the clear (before our first NEWKEYS) anyone on the path reads the padding:
		 * random bytes, which tell nothing about the generator below. Should RAND_bytes
		 * fail, zeros tell nothing either. */
		if (RAND_bytes(pkt + 5 + payload, (int)pad) != 1)
			memset(pkt + 5 + payload, 0, pad);
	} else {
		/* Encrypted, the padding is seen by the peer alone, which has the keys anyway:
		 * the cheap generator (seeded from RAND_bytes per session) saves a RAND_bytes call
		 * per packet. Its state never shows on the wire. */
		for (size_t i = 0; i < pad; i++)
			pkt[5 + payload + i] = pad_byte(s);
	}
	put_u32be(pkt, (uint32_t)(n - 4));
	pkt[4] = (uint8_t)pad;
	if (s->tx && cipher_seal(s->tx, s->tx_seq, pkt, n, pkt + n) != 0) {
		ssh_fail(s, SSH_DISCONNECT_BY_APPLICATION, "encryption failed");
		return 0;
	}
	if (++s->tx_seq == 0 && seq_wrap_fatal(s)) {
		s->tx_exhausted = true; /* not even a DISCONNECT: it would reuse number 0 */
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "sequence number wrapped");
	}
	s->kex_bytes += n + tag_len;
	return n + tag_len;
}

static void seal_packet(struct ssh *s)
{
	size_t payload = s->out.len - s->pkt_start - 5;

	sbuf_reserve(&s->out, transport_packet_size(s, payload) - 5 - payload);
	size_t n = transport_seal_at(s, s->pkt_start, payload);
	s->out.len = s->pkt_start + n;
}

void pkt_end(struct ssh *s)
{
	struct sbuf *b = s->pkt_buf;

	s->pkt_buf = NULL;
	if (b == &s->discard) {
		sbuf_reset(b);
	} else if (b == &s->deferred) {
		put_u32be(b->data + s->pkt_start, (uint32_t)(b->len - s->pkt_start - 4));
		if (b->len > SSH_DEFERRED_LIMIT)
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR,
				 "too much traffic during key exchange");
	} else {
		seal_packet(s);
	}
}

/* Sends what was held back during the key exchange, now under the new keys. */
void transport_flush_deferred(struct ssh *s)
{
	struct sreader r;
	struct sbuf held = s->deferred;

	memset(&s->deferred, 0, sizeof(s->deferred));
	sreader_init(&r, held.data, held.len);
	while (sreader_left(&r) > 0 && s->state != ST_CLOSED) {
		size_t n;
		const uint8_t *p = sreader_string(&r, &n);
		if (n == 0)
			break;
		struct sbuf *b = pkt_begin(s, p[0]);
		sbuf_put(b, p + 1, n - 1);
		pkt_end(s);
	}
	sbuf_free(&held);
}

/* Ends the session because of a protocol error (ours or the peer's). The caller gets a
 * DISCONNECT event. */
void ssh_fail(struct ssh *s, uint32_t reason, const char *text)
{
	if (s->state == ST_CLOSED)
		return;
	ssh_disconnect(s, reason, text);
	s->disc_reported = false;
}

void ssh_disconnect(struct ssh *s, uint32_t reason, const char *text)
{
	if (s->state == ST_CLOSED)
		return;
	if (s->pkt_buf == NULL && !s->tx_exhausted) {
		struct sbuf *b = pkt_begin(s, MSG_DISCONNECT);
		sbuf_put_u32(b, reason);
		sbuf_put_cstring(b, text);
		sbuf_put_cstring(b, "");
		pkt_end(s);
	}
	s->state = ST_CLOSED;
	s->disc_reason = reason;
	s->disc_peer = false;
	s->disc_reported = true;
	snprintf(s->disc_text, sizeof(s->disc_text), "%s", text);
}

/* Reads the client's identification line (RFC 4253 §4.2). Only the server may send other lines
 * first (OpenSSH's sshd refuses them too), so anything else is a protocol mismatch. Returns 1
 * done, 0 need more, -1 failed. */
static int read_version(struct ssh *s)
{
	size_t avail = s->in.len - s->in_off;

	if (avail == 0)
		return 0; /* no buffer at all yet: don't form a pointer from NULL */
	const uint8_t *p = s->in.data + s->in_off;
	const uint8_t *nl = memchr(p, '\n', avail);

	if (nl == NULL) {
		if (avail > SSH_MAX_VERSION_LINE) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "identification line too long");
			return -1;
		}
		return 0;
	}
	size_t len = (size_t)(nl - p);
	if (len + 1 > SSH_MAX_VERSION_LINE) { /* 255 bytes with CR LF (RFC 4253 §4.2) */
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "identification line too long");
		return -1;
	}
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len < 4 || memcmp(p, "SSH-", 4) != 0) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "not an SSH client");
		return -1;
	}
	if ((len < 8 || memcmp(p, "SSH-2.0-", 8) != 0) &&
	    (len < 9 || memcmp(p, "SSH-1.99-", 9) != 0)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED, "SSH-2.0 required");
		return -1;
	}
	/* RFC 4253 §4.2: printable US-ASCII (and spaces before the comments). OpenSSH's sshd
	 * refuses only NUL and a CR that doesn't end the line; we refuse every control
	 * character and every byte over 0x7e, which could only garble the logs. */
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad identification line");
			return -1;
		}
	}
	s->client_version = xstrndup((const char *)p, len);
	s->in_off += (size_t)(nl - p) + 1;
	s->state = ST_KEX;
	return 1;
}

/* Checks a peeked packet length: block alignment and size limits. */
static bool rx_len_ok(const struct ssh *s, uint32_t len)
{
	size_t block = cipher_block(s->rx);
	size_t max = s->state >= ST_CONNECTED ? SSH_MAX_PACKET : SSH_MAX_PACKET_PREAUTH;

	if (len < 8 || len > max)
		return false;
	return cipher_len_aligned(s->rx) ? (len + 4) % block == 0 : len % block == 0;
}

/* Takes one whole packet off the input, verifies and decrypts it in place.
 * Returns 1 with the payload, 0 if more input is needed, -1 if the session failed. */
static int read_packet(struct ssh *s, uint8_t **payload, size_t *plen)
{
	size_t avail = s->in.len - s->in_off;
	size_t tag_len = cipher_tag_len(s->rx);

	if (avail < cipher_len_bytes(s->rx))
		return 0;
	uint8_t *p = s->in.data + s->in_off;
	if (s->rx_len == 0) {
		/* Once per packet: with a non-ETM MAC this decrypts the first block in place. The
		 * length is not authenticated yet, so it is bounded before anything waits on it. */
		uint32_t len = cipher_peek_len(s->rx, s->rx_seq, p);
		if (!rx_len_ok(s, len)) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad packet length");
			return -1;
		}
		s->rx_len = len;
	}
	size_t n = 4 + (size_t)s->rx_len;
	if (avail < n + tag_len)
		return 0;
	if (s->rx && cipher_open(s->rx, s->rx_seq, p, n, p + n) != 0) {
		ssh_fail(s, SSH_DISCONNECT_MAC_ERROR, "message authentication failed");
		return -1;
	}
	uint8_t padlen = p[4];
	if (padlen < 4 || (size_t)padlen + 2 > s->rx_len) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad padding");
		return -1;
	}
	*payload = p + 5;
	*plen = s->rx_len - padlen - 1;
	s->in_off += n + tag_len;
	s->rx_len = 0;
	s->rx_packets++;
	s->kex_bytes += n + tag_len;
	if (++s->rx_seq == 0 && seq_wrap_fatal(s)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "sequence number wrapped");
		return -1;
	}
	return 1;
}

/* SSH_MSG_UNIMPLEMENTED for the packet just received (RFC 4253 §11.4). */
void send_unimplemented(struct ssh *s)
{
	struct sbuf *b = pkt_begin(s, MSG_UNIMPLEMENTED);
	sbuf_put_u32(b, s->rx_seq - 1);
	pkt_end(s);
}

static bool recv_disconnect(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev)
{
	struct sreader r;
	size_t tlen;

	sreader_init(&r, p + 1, n - 1);
	uint32_t reason = sreader_u32(&r);
	const uint8_t *text = sreader_string(&r, &tlen);
	s->state = ST_CLOSED;
	s->disc_reported = true;
	ev->type = SSH_EV_DISCONNECT;
	ev->reason = reason;
	ev->text = scratch_str(s, text, tlen > 80 ? 80 : tlen);
	ev->peer = true;
	return true;
}

/* Which messages the peer may send now (RFC 4253 §7.1, PROTOCOL §1.10 strict KEX). */
static bool msg_allowed(const struct ssh *s, uint8_t msg)
{
	bool in_kex = s->state == ST_KEX || kex_peer_in_kex(s);

	if (s->state == ST_KEX && s->strict_kex)
		return msg == MSG_KEXINIT || msg == MSG_NEWKEYS || msg == MSG_KEX_ECDH_INIT ||
		       msg == MSG_DISCONNECT;
	/* RFC 4253 §7.1 allows only transport messages during a key exchange, but some clients
	 * (asyncssh) keep sending channel traffic during a re-key, and OpenSSH accepts it: so do
	 * we, after authentication. Our own replies wait for NEWKEYS (pkt_begin). */
	if (in_kex && s->state == ST_CONNECTED && msg >= MSG_GLOBAL_REQUEST)
		return true;
	if (in_kex)
		return msg <= MSG_DEBUG || (msg >= MSG_KEXINIT && msg < MSG_USERAUTH_REQUEST);
	if (msg > MSG_KEXINIT && msg < MSG_USERAUTH_REQUEST)
		return false;
	return true;
}

static bool dispatch(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev)
{
	uint8_t msg = p[0];

	if (s->ignore_next_kex_packet && msg >= MSG_KEX_ECDH_INIT && msg < MSG_USERAUTH_REQUEST) {
		s->ignore_next_kex_packet = false;
		return false;
	}
	if (!msg_allowed(s, msg)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "unexpected message");
		return false;
	}
	switch (msg) {
	case MSG_DISCONNECT:
		return recv_disconnect(s, p, n, ev);
	case MSG_IGNORE:
	case MSG_DEBUG:
	case MSG_UNIMPLEMENTED:
		return false;
	case MSG_EXT_INFO:
		/* We don't offer ext-info-s, so a client may not send one (RFC 8308 §2.2): it is
		 * answered like an unknown message, as OpenSSH answers an EXT_INFO it doesn't
		 * expect (kex.c kex_protocol_error, dispatch.c dispatch_protocol_error). */
		send_unimplemented(s);
		return false;
	case MSG_KEXINIT:
		kex_recv_kexinit(s, p, n);
		return false;
	case MSG_KEX_ECDH_INIT:
		kex_recv_ecdh_init(s, p, n);
		return false;
	case MSG_NEWKEYS:
		if (!kex_recv_newkeys(s, n))
			return false;
		ev->type = SSH_EV_KEX_DONE;
		return true;
	case MSG_SERVICE_REQUEST:
		userauth_recv_service_request(s, p, n);
		return false;
	default:
		break;
	}
	if (msg >= MSG_USERAUTH_REQUEST && msg < MSG_GLOBAL_REQUEST) {
		if (s->state == ST_USERAUTH && msg == MSG_USERAUTH_REQUEST)
			return userauth_recv_request(s, p, n, ev);
		if (s->state != ST_CONNECTED)
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "unexpected message");
		return false; /* RFC 4252 §5.1: later auth requests are ignored */
	}
	if (msg >= MSG_GLOBAL_REQUEST && msg < 128) {
		if (s->state != ST_CONNECTED) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "not authenticated");
			return false;
		}
		return conn_dispatch(s, p, n, ev);
	}
	send_unimplemented(s);
	return false;
}

static bool report_disconnect(struct ssh *s, struct ssh_event *ev)
{
	if (s->disc_reported)
		return false;
	s->disc_reported = true;
	ev->type = SSH_EV_DISCONNECT;
	ev->reason = s->disc_reason;
	ev->text = s->disc_text;
	ev->peer = false;
	return true;
}

void ssh_rekey(struct ssh *s)
{
	if (s->state >= ST_SERVICE && s->state != ST_CLOSED && !kex_running(s))
		kex_send_kexinit(s);
}

bool ssh_next_event(struct ssh *s, struct ssh_event *ev)
{
	conn_reap(s);
	memset(ev, 0, sizeof(*ev));
	if (s->scratch.cap) {
		free(s->scratch.data);
		memset(&s->scratch, 0, sizeof(s->scratch));
	}
	for (;;) {
		if (s->state == ST_CLOSED)
			return report_disconnect(s, ev);
		if (s->unopened_closes > 0 && conn_report_unopened(s, ev))
			return true;
		if (s->auth_pending)
			return false;
		if (s->kex_bytes > s->cfg.rekey_bytes)
			ssh_rekey(s);
		if (s->state == ST_VERSION) {
			int r = read_version(s);
			if (r == 0) {
				release_in(s);
				return false;
			}
			continue;
		}
		uint8_t *p;
		size_t n;
		int r = read_packet(s, &p, &n);
		if (r < 0)
			continue;
		if (r == 0) {
			release_in(s);
			return false;
		}
		if (n == 0) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "empty packet");
			continue;
		}
		if (s->state != ST_CONNECTED && s->rx_packets > SSH_MAX_PREAUTH_MESSAGES) {
			ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR,
				 "too many messages before authentication");
			continue;
		}
		if (dispatch(s, p, n, ev))
			return true;
	}
}
