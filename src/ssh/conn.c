/* Connection protocol (RFC 4254): global requests, channel opens answered later by the caller,
 * window accounting both ways, data, EOF and CLOSE. */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../xmalloc.h"
#include "internal.h"

#define CONN_MIN_MAXPACKET   64
#define CONN_MAX_DATA_PACKET (256 * 1024)

static struct ssh_channel *chan_get(struct ssh *s, uint32_t id)
{
	return id < s->n_chans ? s->chans[id] : NULL;
}

/* Allocates the lowest free local id. Returns NULL at the configured limit. */
static struct ssh_channel *chan_new(struct ssh *s)
{
	uint32_t id;

	if (s->open_chans >= s->cfg.max_channels)
		return NULL;
	for (id = 0; id < s->n_chans; id++) {
		if (s->chans[id] == NULL)
			break;
	}
	if (id == s->n_chans) {
		uint32_t n = s->n_chans ? s->n_chans * 2 : 4;
		s->chans = xrealloc(s->chans, n * sizeof(*s->chans));
		memset(s->chans + s->n_chans, 0, (n - s->n_chans) * sizeof(*s->chans));
		s->n_chans = n;
	}
	struct ssh_channel *ch = xcalloc(1, sizeof(*ch));
	ch->local_id = id;
	s->chans[id] = ch;
	s->open_chans++;
	return ch;
}

static void chan_free(struct ssh *s, struct ssh_channel *ch)
{
	s->chans[ch->local_id] = NULL;
	s->open_chans--;
	free(ch);
	if (s->open_chans == 0) {
		free(s->chans);
		s->chans = NULL;
		s->n_chans = 0;
	}
}

void conn_reap(struct ssh *s)
{
	if (s->dead_chan) {
		chan_free(s, s->dead_chan);
		s->dead_chan = NULL;
	}
}

void conn_free_all(struct ssh *s)
{
	conn_reap(s);
	for (uint32_t i = 0; i < s->n_chans && s->chans; i++) {
		if (s->chans[i])
			chan_free(s, s->chans[i]);
	}
	free(s->chans);
	s->chans = NULL;
	s->n_chans = 0;
}

static void send_open_failure(struct ssh *s, uint32_t remote_id, uint32_t reason, const char *text)
{
	struct sbuf *b = pkt_begin(s, MSG_CHANNEL_OPEN_FAILURE);

	sbuf_put_u32(b, remote_id);
	sbuf_put_u32(b, reason);
	sbuf_put_cstring(b, text);
	sbuf_put_cstring(b, "");
	pkt_end(s);
}

static bool recv_global_request(struct ssh *s, struct sreader *r, struct ssh_event *ev)
{
	size_t len;
	const uint8_t *name = sreader_string(r, &len);
	bool want_reply = sreader_bool(r);

	if (r->err) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad GLOBAL_REQUEST");
		return false;
	}
	/* We support none: keepalive@openssh.com expects exactly this failure reply. */
	if (want_reply) {
		pkt_begin(s, MSG_REQUEST_FAILURE);
		pkt_end(s);
	}
	ev->type = SSH_EV_GLOBAL_REQUEST;
	ev->name = scratch_str(s, name, len > 64 ? 64 : len);
	return true;
}

void ssh_keepalive(struct ssh *s)
{
	if (s->state != ST_CONNECTED)
		return;
	struct sbuf *b = pkt_begin(s, MSG_GLOBAL_REQUEST);
	sbuf_put_cstring(b, "keepalive@openssh.com");
	sbuf_put_u8(b, 1);
	pkt_end(s);
}

static bool recv_open(struct ssh *s, struct sreader *r, struct ssh_event *ev)
{
	size_t tlen;
	const uint8_t *type = sreader_string(r, &tlen);
	uint32_t sender = sreader_u32(r);
	uint32_t window = sreader_u32(r);
	uint32_t maxpacket = sreader_u32(r);

	if (r->err) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad CHANNEL_OPEN");
		return false;
	}
	if (maxpacket < CONN_MIN_MAXPACKET) {
		send_open_failure(s, sender, SSH_OPEN_RESOURCE_SHORTAGE, "packet size too small");
		return false;
	}
	if (memchr(type, '\0', tlen) != NULL) {
		/* The event carries the type as a C string: a NUL would disguise it. */
		send_open_failure(s, sender, SSH_OPEN_UNKNOWN_CHANNEL_TYPE, "bad channel type");
		return false;
	}
	struct ssh_channel *ch = chan_new(s);
	if (ch == NULL) {
		send_open_failure(s, sender, SSH_OPEN_RESOURCE_SHORTAGE, "too many channels");
		return false;
	}
	ch->remote_id = sender;
	ch->remote_window = window;
	ch->remote_maxpacket = maxpacket > CONN_MAX_DATA_PACKET ? CONN_MAX_DATA_PACKET : maxpacket;
	ev->type = SSH_EV_CHANNEL_OPEN;
	ev->ch = ch;
	ev->chan_type = scratch_str(s, type, tlen > 64 ? 64 : tlen);
	/* The type-specific fields are the host's to parse (channel types live above us). */
	ev->type_data = r->p + r->off;
	ev->type_len = sreader_left(r);
	return true;
}

/* WINDOW_ADJUST for what the caller consumed, once the window we granted is half used
 * (OpenSSH's channel_check_window rule). Held back during a key exchange. */
static void maybe_adjust(struct ssh *s, struct ssh_channel *ch)
{
	if (ch->consumed == 0 || ch->close_sent || ch->close_rcvd || kex_tx_blocked(s))
		return;
	if (ch->local_window >= s->cfg.window / 2)
		return;
	struct sbuf *b = pkt_begin(s, MSG_CHANNEL_WINDOW_ADJUST);
	sbuf_put_u32(b, ch->remote_id);
	sbuf_put_u32(b, ch->consumed);
	pkt_end(s);
	ch->local_window += ch->consumed;
	ch->consumed = 0;
}

void conn_after_kex(struct ssh *s)
{
	for (uint32_t i = 0; i < s->n_chans; i++) {
		if (s->chans[i])
			maybe_adjust(s, s->chans[i]);
	}
}

/* Accounts received data against the window we granted. Returns false on overrun. */
static bool take_window(struct ssh *s, struct ssh_channel *ch, size_t len)
{
	if (!ch->confirmed || len > ch->local_window || len > s->cfg.max_packet) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "channel window exceeded");
		return false;
	}
	ch->local_window -= (uint32_t)len;
	return true;
}

static bool recv_data(struct ssh *s, struct ssh_channel *ch, struct sreader *r, bool extended,
		      struct ssh_event *ev)
{
	size_t len;

	if (extended)
		sreader_u32(r);
	const uint8_t *data = sreader_string(r, &len);
	if (!sreader_end(r)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad CHANNEL_DATA");
		return false;
	}
	if (!take_window(s, ch, len))
		return false;
	if (extended || ch->close_sent || ch->eof_rcvd || len == 0) {
		/* Nobody will read it: hand the window straight back. */
		ch->consumed += (uint32_t)len;
		maybe_adjust(s, ch);
		return false;
	}
	ev->type = SSH_EV_CHANNEL_DATA;
	ev->ch = ch;
	ev->data = data;
	ev->len = len;
	return true;
}

static bool recv_close(struct ssh *s, struct ssh_channel *ch, struct ssh_event *ev)
{
	if (ch->close_rcvd) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "duplicate CHANNEL_CLOSE");
		return false;
	}
	ch->close_rcvd = true;
	ssh_channel_close(s, ch);
	s->dead_chan = ch;
	ev->type = SSH_EV_CHANNEL_CLOSE;
	ev->ch = ch;
	return true;
}

/* RFC 4251 §6: names are at most 64 characters. */
#define CONN_MAX_REQUEST_NAME 64

/* CHANNEL_REQUEST: surfaced as SSH_EV_CHANNEL_REQUEST with the request-specific bytes for the
 * host to parse. Once we sent CLOSE nothing may follow it, so such a request is dropped
 * unanswered. A name longer than 64 bytes or holding a NUL reaches the host as "(invalid)",
 * which no host knows: it still gets its (failure) answer in order. */
static bool recv_channel_request(struct ssh *s, struct ssh_channel *ch, struct sreader *r,
				 struct ssh_event *ev)
{
	size_t len;
	const uint8_t *name = sreader_string(r, &len);
	bool want_reply = sreader_bool(r);

	if (r->err) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad CHANNEL_REQUEST");
		return false;
	}
	if (ch->close_sent)
		return false;
	if (want_reply)
		ch->replies_owed++;
	ev->type = SSH_EV_CHANNEL_REQUEST;
	ev->ch = ch;
	if (len > CONN_MAX_REQUEST_NAME || memchr(name, '\0', len) != NULL)
		ev->name = "(invalid)";
	else
		ev->name = scratch_str(s, name, len);
	ev->want_reply = want_reply;
	ev->type_data = r->p + r->off;
	ev->type_len = sreader_left(r);
	return true;
}

static bool recv_window_adjust(struct ssh *s, struct ssh_channel *ch, struct sreader *r,
			       struct ssh_event *ev)
{
	uint32_t n = sreader_u32(r);
	uint64_t w = (uint64_t)ch->remote_window + n;

	if (!sreader_end(r)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad CHANNEL_WINDOW_ADJUST");
		return false;
	}
	ch->remote_window = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
	if (!ch->window_blocked || n == 0)
		return false;
	ch->window_blocked = false;
	ev->type = SSH_EV_CHANNEL_WINDOW;
	ev->ch = ch;
	return true;
}

/* EOF, CLOSE, SUCCESS and FAILURE carry nothing but the channel number (OpenSSH:
 * sshpkt_get_end in channel_input_ieof, _oclose, _status_confirm). */
static bool bare_channel_msg_ok(struct ssh *s, uint8_t msg, const struct sreader *r)
{
	if ((msg == MSG_CHANNEL_EOF || msg == MSG_CHANNEL_CLOSE || msg == MSG_CHANNEL_SUCCESS ||
	     msg == MSG_CHANNEL_FAILURE) &&
	    !sreader_end(r)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad channel message");
		return false;
	}
	return true;
}

/* Messages addressed to one of our channels. A channel we haven't confirmed doesn't exist for
 * the client, which learns our number only from OPEN_CONFIRMATION (RFC 4254 §5.1): a message
 * for it ends the session like one for a channel that never was (OpenSSH:
 * channel_from_packet_id, "packet referred to nonexistent channel"). */
static bool recv_channel_msg(struct ssh *s, uint8_t msg, struct sreader *r, struct ssh_event *ev)
{
	struct ssh_channel *ch = chan_get(s, sreader_u32(r));

	/* A window adjust that crossed the channel's last CLOSE (paramiko sends them from its
	 * reading thread) is ignored, as OpenSSH's channel_input_window_adjust does. */
	if (!r->err && ch == NULL && msg == MSG_CHANNEL_WINDOW_ADJUST)
		return false;
	if (r->err || ch == NULL || !ch->confirmed) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "message for unknown channel");
		return false;
	}
	if (!bare_channel_msg_ok(s, msg, r))
		return false;
	switch (msg) {
	case MSG_CHANNEL_WINDOW_ADJUST:
		return recv_window_adjust(s, ch, r, ev);
	case MSG_CHANNEL_DATA:
	case MSG_CHANNEL_EXTENDED_DATA:
		return recv_data(s, ch, r, msg == MSG_CHANNEL_EXTENDED_DATA, ev);
	case MSG_CHANNEL_EOF:
		if (ch->eof_rcvd || ch->close_sent) {
			ch->eof_rcvd = true;
			return false;
		}
		ch->eof_rcvd = true;
		ev->type = SSH_EV_CHANNEL_EOF;
		ev->ch = ch;
		return true;
	case MSG_CHANNEL_CLOSE:
		return recv_close(s, ch, ev);
	case MSG_CHANNEL_REQUEST:
		return recv_channel_request(s, ch, r, ev);
	default: /* CHANNEL_SUCCESS / FAILURE: we send no requests that want them */
		return false;
	}
}

bool conn_dispatch(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev)
{
	struct sreader r;

	sreader_init(&r, p + 1, n - 1);
	switch (p[0]) {
	case MSG_GLOBAL_REQUEST:
		return recv_global_request(s, &r, ev);
	case MSG_REQUEST_SUCCESS:
	case MSG_REQUEST_FAILURE:
		/* The answer to our keepalive (ssh_keepalive), whatever it carries; also taken
		 * unasked, as OpenSSH does when it has no reply pending. */
		return false;
	case MSG_CHANNEL_OPEN:
		return recv_open(s, &r, ev);
	case MSG_CHANNEL_WINDOW_ADJUST:
	case MSG_CHANNEL_DATA:
	case MSG_CHANNEL_EXTENDED_DATA:
	case MSG_CHANNEL_EOF:
	case MSG_CHANNEL_CLOSE:
	case MSG_CHANNEL_REQUEST:
	case MSG_CHANNEL_SUCCESS:
	case MSG_CHANNEL_FAILURE:
		return recv_channel_msg(s, p[0], &r, ev);
	case MSG_CHANNEL_OPEN_CONFIRMATION:
	case MSG_CHANNEL_OPEN_FAILURE:
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "we opened no channel");
		return false;
	default:
		send_unimplemented(s);
		return false;
	}
}

void ssh_channel_confirm(struct ssh *s, struct ssh_channel *ch)
{
	if (ch->confirmed || ch->close_sent || s->state == ST_CLOSED)
		return;
	ch->confirmed = true;
	ch->local_window = s->cfg.window;
	struct sbuf *b = pkt_begin(s, MSG_CHANNEL_OPEN_CONFIRMATION);
	sbuf_put_u32(b, ch->remote_id);
	sbuf_put_u32(b, ch->local_id);
	sbuf_put_u32(b, s->cfg.window);
	sbuf_put_u32(b, s->cfg.max_packet);
	pkt_end(s);
}

void ssh_channel_refuse(struct ssh *s, struct ssh_channel *ch, uint32_t reason, const char *text)
{
	if (ch->confirmed || ch->close_sent)
		return;
	send_open_failure(s, ch->remote_id, reason, text);
	chan_free(s, ch);
}

void ssh_channel_set_user(struct ssh_channel *ch, void *user)
{
	ch->user = user;
}

void *ssh_channel_user(const struct ssh_channel *ch)
{
	return ch->user;
}

uint32_t ssh_channel_id(const struct ssh_channel *ch)
{
	return ch->local_id;
}

size_t ssh_channel_send_space(struct ssh *s, struct ssh_channel *ch)
{
	if (s->state == ST_CLOSED || !ch->confirmed || ch->eof_sent || ch->close_sent ||
	    ch->close_rcvd || kex_tx_blocked(s))
		return 0;
	if (ssh_out_full(s))
		return 0;
	if (ch->remote_window == 0)
		ch->window_blocked = true;
	return ch->remote_window;
}

/* CHANNEL_DATA header inside the payload: byte msg, uint32 recipient, uint32 length. */
#define CONN_DATA_HDR 9

size_t ssh_channel_data_reserve(struct ssh *s, struct ssh_channel *ch, struct iovec *iov,
				size_t max_iov)
{
	size_t space = ssh_channel_send_space(s, ch);
	size_t per = ch->remote_maxpacket;
	size_t slot = transport_packet_size(s, CONN_DATA_HDR + per);
	size_t n = 0;

	if (space == 0)
		return 0;
	sbuf_reserve(&s->out, max_iov * slot);
	ch->data_off = s->out.len;
	for (; n < max_iov && space > 0; n++) {
		size_t len = space < per ? space : per;
		iov[n].iov_base = s->out.data + s->out.len + n * slot + 5 + CONN_DATA_HDR;
		iov[n].iov_len = len;
		space -= len;
	}
	return n;
}

/* Full packets have exactly `slot` bytes, so the sealed packets lie back to back. */
void ssh_channel_data_commit(struct ssh *s, struct ssh_channel *ch, size_t total)
{
	size_t per = ch->remote_maxpacket;
	size_t slot = transport_packet_size(s, CONN_DATA_HDR + per);
	size_t start = ch->data_off;

	while (total > 0 && s->state != ST_CLOSED) {
		size_t len = total < per ? total : per;
		uint8_t *p = s->out.data + start;
		p[5] = MSG_CHANNEL_DATA;
		put_u32be(p + 6, ch->remote_id);
		put_u32be(p + 10, (uint32_t)len);
		size_t n = transport_seal_at(s, start, CONN_DATA_HDR + len);
		if (n == 0)
			break;
		ch->remote_window -= (uint32_t)len;
		total -= len;
		start += n;
		if (len == per && n != slot)
			break; /* cannot happen: sizes are deterministic */
	}
	s->out.len = start;
	if (s->kex_bytes > s->cfg.rekey_bytes)
		ssh_rekey(s);
}

size_t ssh_channel_write(struct ssh *s, struct ssh_channel *ch, const void *data, size_t len)
{
	size_t done = 0;
	struct iovec iov;

	while (done < len && ssh_channel_data_reserve(s, ch, &iov, 1) == 1) {
		size_t n = len - done < iov.iov_len ? len - done : iov.iov_len;
		memcpy(iov.iov_base, (const uint8_t *)data + done, n);
		ssh_channel_data_commit(s, ch, n);
		done += n;
	}
	return done;
}

void ssh_channel_consumed(struct ssh *s, struct ssh_channel *ch, size_t n)
{
	ch->consumed += (uint32_t)n;
	maybe_adjust(s, ch);
}

void ssh_channel_send_eof(struct ssh *s, struct ssh_channel *ch)
{
	if (!ch->confirmed || ch->eof_sent || ch->close_sent)
		return;
	ch->eof_sent = true;
	struct sbuf *b = pkt_begin(s, MSG_CHANNEL_EOF);
	sbuf_put_u32(b, ch->remote_id);
	pkt_end(s);
}

/* Closing a channel the client has not seen confirmed: CLOSE would name a channel it doesn't
 * know, so the open is answered with OPEN_FAILURE instead, and since no CLOSE will come back,
 * the engine reports the channel closed itself, at the next ssh_next_event
 * (conn_report_unopened). */
static void close_unopened(struct ssh *s, struct ssh_channel *ch)
{
	send_open_failure(s, ch->remote_id, SSH_OPEN_CONNECT_FAILED, "channel closed");
	s->unopened_closes++;
}

bool conn_report_unopened(struct ssh *s, struct ssh_event *ev)
{
	for (uint32_t i = 0; i < s->n_chans && s->unopened_closes > 0; i++) {
		struct ssh_channel *ch = s->chans[i];
		if (ch != NULL && !ch->confirmed && ch->close_sent) {
			s->unopened_closes--;
			s->dead_chan = ch;
			ev->type = SSH_EV_CHANNEL_CLOSE;
			ev->ch = ch;
			return true;
		}
	}
	return false;
}

void ssh_channel_close(struct ssh *s, struct ssh_channel *ch)
{
	if (ch->close_sent)
		return;
	ch->close_sent = true;
	if (!ch->confirmed) {
		close_unopened(s, ch);
		return;
	}
	struct sbuf *b = pkt_begin(s, MSG_CHANNEL_CLOSE);
	sbuf_put_u32(b, ch->remote_id);
	pkt_end(s);
}

void ssh_channel_request_reply(struct ssh *s, struct ssh_channel *ch, bool ok)
{
	if (ch->replies_owed == 0)
		return; /* nothing asked for an answer: an unsolicited one would confuse the peer */
	ch->replies_owed--;
	if (ch->close_sent || ch->close_rcvd)
		return;
	struct sbuf *b = pkt_begin(s, ok ? MSG_CHANNEL_SUCCESS : MSG_CHANNEL_FAILURE);
	sbuf_put_u32(b, ch->remote_id);
	pkt_end(s);
}

void ssh_channel_send_request(struct ssh *s, struct ssh_channel *ch, const char *name,
			      const uint8_t *data, size_t len)
{
	if (!ch->confirmed || ch->close_sent || ch->close_rcvd)
		return;
	struct sbuf *b = pkt_begin(s, MSG_CHANNEL_REQUEST);
	sbuf_put_u32(b, ch->remote_id);
	sbuf_put_cstring(b, name);
	sbuf_put_u8(b, 0); /* want_reply: we never wait for an answer */
	sbuf_put(b, data, len);
	pkt_end(s);
}

/* Extended data goes through pkt_begin like any message (no zero-copy: it is for short
 * diagnostics), within the same send space and max packet as CHANNEL_DATA. */
size_t ssh_channel_write_ext(struct ssh *s, struct ssh_channel *ch, uint32_t code, const void *data,
			     size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t n = ssh_channel_send_space(s, ch);
		if (n == 0)
			break;
		n = n < ch->remote_maxpacket ? n : ch->remote_maxpacket;
		n = n < len - done ? n : len - done;
		struct sbuf *b = pkt_begin(s, MSG_CHANNEL_EXTENDED_DATA);
		sbuf_put_u32(b, ch->remote_id);
		sbuf_put_u32(b, code);
		sbuf_put_string(b, (const uint8_t *)data + done, n);
		pkt_end(s);
		ch->remote_window -= (uint32_t)n;
		done += n;
	}
	return done;
}
