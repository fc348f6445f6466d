/* The stealth transport (stealth.h): decide, then either pass bytes through or play nginx.
 * One transport, two places: over TLS it decides by the SSH banner; under TLS (plain) by the
 * first byte, the way nginx's ngx_http_ssl_handshake does. */
#include "stealth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../log.h"
#include "../loop.h"
#include "../xmalloc.h"
#include "http_probe.h"

#define STEALTH_BANNER	   "SSH-2.0-"
#define STEALTH_BANNER_LEN 8
/* nginx's client_header_timeout 60s and keepalive_timeout 75s; while it drops the body of a
 * request it has answered, lingering_timeout 5s for each read and lingering_time 30s in all. */
#define STEALTH_HEADER_MS     60000
#define STEALTH_KEEPALIVE_MS  75000
#define STEALTH_LINGER_MS     5000
#define STEALTH_LINGER_MAX_MS 30000
#define STEALTH_BUF	      (HTTP_PROBE_HEADERS_MAX + HTTP_PROBE_LINE_MAX + 64)

enum stealth_mode {
	STEALTH_DECIDING = 0, /* fewer bytes than "SSH-2.0-", all matching (plain: none yet) */
	STEALTH_SSH = 1,      /* pass-through (SSH, or TLS under it); in[] holds the first bytes */
	STEALTH_HTTP = 2,     /* answering as nginx */
	STEALTH_DONE = 3,     /* the probe is over: the owner gets an error */
};

struct stealth_transport {
	struct transport base; /* first */
	struct transport *lower;
	struct loop *loop;
	struct loop_timer timer;
	enum stealth_mode mode;
	bool plain; /* under TLS: a TLS record goes through, anything else is plain HTTP */
	/* Over TLS: the plain layer under it (borrowed: TLS owns it), which logs and times out
	 * a plain-HTTP probe itself. NULL without one. */
	struct stealth_transport *under;
	uint64_t accepted; /* loop ms at the accept: nginx's first timeout counts from there */
	unsigned owner_want;
	bool closing;  /* HTTP: close once the answer is out and its request's body dropped */
	bool draining; /* plain: lingering close, what comes is dropped (drain_start) */
	unsigned requests;
	struct http_probe_body body; /* of the request answered last: what is still to drop */
	uint64_t linger_end; /* loop ms: nginx stops waiting for that body; 0: not waiting */
	uint8_t *in;	     /* bytes read, not yet passed on (SSH) or parsed (HTTP) */
	size_t in_len, in_off;
	char out[HTTP_PROBE_ANSWER_MAX];
	size_t out_len, out_off;
	char addr[64];
};

static struct stealth_transport *st_of(struct transport *t)
{
	return (struct stealth_transport *)t;
}

static void tell_owner(struct stealth_transport *st, unsigned events)
{
	st->base.cb(st->base.ctx, events);
}

static void set_timer(struct stealth_transport *st, uint64_t ms);

/* Over TLS: true while the plain layer under it plays nginx, or once it has logged the probe. */
static bool under_owns_probe(const struct stealth_transport *st)
{
	return st->under != NULL &&
	       (st->under->mode == STEALTH_HTTP || st->under->mode == STEALTH_DONE);
}

/* The probe is over: one line for fail2ban (from the layer that saw it), and the owner learns
 * the connection ended. */
static void probe_over(struct stealth_transport *st, const char *why)
{
	if (st->mode == STEALTH_DONE)
		return;
	st->mode = STEALTH_DONE;
	loop_timer_stop(st->loop, &st->timer);
	if (!under_owns_probe(st))
		log_info("stealth probe remote_addr=%s requests=%u reason=\"%s\"", st->addr,
			 st->requests, why);
	tell_owner(st, TRANSPORT_ERROR);
}

/* The probe is over the way nginx ends a connection that timed out in the middle of a request
 * (SSL quiet shutdown): the stream is cut under TLS, so no close_notify goes out. */
static void probe_cut(struct stealth_transport *st, const char *why)
{
	if (st->mode == STEALTH_DONE)
		return;
	transport_shut(st->lower);
	probe_over(st, why);
}

/* Waiting for a new request (or the first), nginx closes with a close_notify; with a request,
 * a body or an answer under way, quietly. */
static void timer_expired(struct loop *l, void *ctx)
{
	struct stealth_transport *st = ctx;

	(void)l;
	if (under_owns_probe(st))
		return; /* the plain layer's own clock ends it */
	if (st->draining) {
		probe_over(st, "http");
		return;
	}
	if (st->in_len > st->in_off || st->linger_end != 0 || st->out_off < st->out_len ||
	    transport_unsent(st->lower) > 0)
		probe_cut(st, "timeout");
	else
		probe_over(st, "timeout");
}

static void set_timer(struct stealth_transport *st, uint64_t ms)
{
	loop_timer_start(st->loop, &st->timer, ms, timer_expired, st);
}

/* Writes what is left of the answer; true once all of it is out. */
static bool flush_answer(struct stealth_transport *st)
{
	while (st->out_off < st->out_len) {
		ssize_t n = transport_write(st->lower, st->out + st->out_off,
					    st->out_len - st->out_off);
		if (n > 0) {
			st->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			transport_want(st->lower, TRANSPORT_READ | TRANSPORT_WRITE);
			return false;
		}
		probe_over(st, "write failed");
		return false;
	}
	st->out_len = st->out_off = 0;
	return true;
}

/* Drops n bytes of in[] that were parsed. */
static void consume(struct stealth_transport *st, size_t n)
{
	st->in_off += n;
	if (st->in_off == st->in_len)
		st->in_off = st->in_len = 0;
}

/* Drops what in[] holds of the last request's body. */
static enum http_probe_result drop_body(struct stealth_transport *st)
{
	size_t used;
	enum http_probe_result r = http_probe_body_drop(&st->body, st->in + st->in_off,
							st->in_len - st->in_off, &used);

	consume(st, used);
	return r;
}

/* The answer is out and its request's body is still coming: nginx waits for each read of it
 * at most 5 s, and for all of it 30 s (bytes after that end the probe with a close_notify). */
static void linger(struct stealth_transport *st)
{
	uint64_t now = loop_now_ms(st->loop);

	if (st->linger_end == 0)
		st->linger_end = now + STEALTH_LINGER_MAX_MS;
	uint64_t left = st->linger_end - now;
	set_timer(st, left < STEALTH_LINGER_MS ? left : STEALTH_LINGER_MS);
	transport_want(st->lower, TRANSPORT_READ);
}

/* True once the last request's body is dropped; false while more must come, or when it ended
 * the probe (an invalid chunk, the lingering time over). */
static bool body_dropped(struct stealth_transport *st)
{
	if (st->linger_end != 0 && loop_now_ms(st->loop) >= st->linger_end) {
		probe_over(st, "lingering time");
		return false;
	}
	enum http_probe_result r = drop_body(st);
	if (r == HTTP_PROBE_DONE) {
		st->linger_end = 0;
		return true;
	}
	if (r == HTTP_PROBE_BAD)
		probe_cut(st, "invalid body");
	else
		linger(st);
	return false;
}

/* Queues nginx's answer to req. Like nginx, first drops what in[] holds of its body: an
 * invalid chunk in it makes the answer the last. */
static void answer(struct stealth_transport *st, const struct http_probe_req *req)
{
	st->requests++;
	consume(st, req->consumed);
	st->body = req->body;
	bool bad = drop_body(st) == HTTP_PROBE_BAD;
	bool last =
		!req->keep_alive || bad || req->http09 || st->requests >= HTTP_PROBE_REQUESTS_MAX;

	if (bad)
		memset(&st->body, 0, sizeof(st->body)); /* nothing more to drop: it closes */
	st->out_len = http_probe_answer(req, time(NULL), last, st->out);
	st->out_off = 0;
	st->closing = last;
	set_timer(st, STEALTH_HEADER_MS);
}

/* Draining: waits for the next bytes to drop, 5 s at most, until 30 s in all are over. */
static void drain_wait(struct stealth_transport *st)
{
	uint64_t now = loop_now_ms(st->loop);

	if (now >= st->linger_end) {
		probe_over(st, "http");
		return;
	}
	uint64_t left = st->linger_end - now;
	set_timer(st, left < STEALTH_LINGER_MS ? left : STEALTH_LINGER_MS);
	transport_want(st->lower, TRANSPORT_READ);
}

/* Plain HTTP, the last answer out with bytes of the client still unread: nginx's lingering
 * close. It shuts the socket for writing, then reads and drops what comes until the client
 * closes, 5 s pass without a byte (lingering_timeout) or 30 s in all (lingering_time), so its
 * close sends no reset for them. (Over TLS nginx sends a close_notify first; not done here.) */
static void drain_start(struct stealth_transport *st)
{
	transport_shut(st->lower);
	st->draining = true;
	st->in_off = st->in_len = 0;
	st->linger_end = loop_now_ms(st->loop) + STEALTH_LINGER_MAX_MS;
	drain_wait(st);
}

/* Answers every whole request in the buffer, as nginx would, one at a time. */
static void serve_http(struct stealth_transport *st)
{
	while (st->mode == STEALTH_HTTP && !st->draining && flush_answer(st)) {
		if (!body_dropped(st))
			return;
		if (st->closing && transport_unsent(st->lower) > 0) {
			/* The last answer is still in TLS records: wait until they are out. */
			transport_want(st->lower, TRANSPORT_WRITE);
			return;
		}
		if (st->closing && st->plain && st->in_len > st->in_off) {
			drain_start(st);
			return;
		}
		if (st->closing) {
			probe_over(st, "http");
			return;
		}
		struct http_probe_req req;
		if (http_probe_parse(st->in + st->in_off, st->in_len - st->in_off, &req) ==
		    HTTP_PROBE_MORE) {
			if (st->in_len == st->in_off)
				set_timer(st, STEALTH_KEEPALIVE_MS);
			transport_want(st->lower, TRANSPORT_READ);
			return;
		}
		if (st->plain)
			http_probe_to_https(&req);
		answer(st, &req);
	}
}

/* Plain HTTP: nginx's client_header_timeout still counts from the accept. */
static void start_http(struct stealth_transport *st)
{
	uint64_t spent = loop_now_ms(st->loop) - st->accepted;

	st->mode = STEALTH_HTTP;
	if (st->plain)
		set_timer(st, spent < STEALTH_HEADER_MS ? STEALTH_HEADER_MS - spent : 0);
	serve_http(st);
}

/* Over TLS, the first bytes decide: the whole banner prefix, or the first byte that differs.
 * Under it, the first byte: a TLS handshake record (0x16) or an SSLv2 hello (the high bit)
 * goes on to TLS, as in nginx. */
static void decide(struct stealth_transport *st)
{
	size_t n = st->in_len < STEALTH_BANNER_LEN ? st->in_len : STEALTH_BANNER_LEN;

	if (st->plain ? st->in[0] != 0x16 && !(st->in[0] & 0x80)
		      : memcmp(st->in, STEALTH_BANNER, n) != 0) {
		start_http(st);
		return;
	}
	if (!st->plain && n < STEALTH_BANNER_LEN)
		return; /* so far so good: wait for more */
	st->mode = STEALTH_SSH;
	loop_timer_stop(st->loop, &st->timer);
	transport_want(st->lower, st->owner_want);
	tell_owner(st, TRANSPORT_READ | TRANSPORT_WRITE);
}

/* Reads what the lower transport has into in[] (DECIDING and HTTP). */
static void fill(struct stealth_transport *st)
{
	while (st->mode == STEALTH_DECIDING || st->mode == STEALTH_HTTP) {
		if (st->in_len == STEALTH_BUF) {
			serve_http(st); /* a full buffer is an oversized request: answered */
			return;
		}
		ssize_t n =
			transport_read(st->lower, st->in + st->in_len, STEALTH_BUF - st->in_len);
		if (n > 0 && st->draining) {
			drain_wait(st); /* in[] is not kept: read again over it */
			continue;
		}
		if (n > 0) {
			if (st->in_len == 0 && st->mode == STEALTH_HTTP)
				set_timer(st, STEALTH_HEADER_MS);
			st->in_len += (size_t)n;
			if (st->mode == STEALTH_DECIDING)
				decide(st);
			else
				serve_http(st);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		probe_over(st, st->draining ? "http" : n == 0 ? "closed" : "read failed");
		return;
	}
}

static void lower_cb(void *ctx, unsigned events)
{
	struct stealth_transport *st = ctx;

	if (st->mode == STEALTH_SSH) {
		tell_owner(st, events);
		return;
	}
	if (events & TRANSPORT_ERROR) {
		probe_over(st, "connection error");
		return;
	}
	if (st->mode == STEALTH_HTTP && (events & TRANSPORT_WRITE))
		serve_http(st);
	if (events & TRANSPORT_READ)
		fill(st);
}

static ssize_t stealth_read(struct transport *t, void *buf, size_t len)
{
	struct stealth_transport *st = st_of(t);

	if (st->mode == STEALTH_DONE) {
		errno = ECONNRESET;
		return -1;
	}
	if (st->mode != STEALTH_SSH) {
		errno = EAGAIN;
		return -1;
	}
	if (st->in != NULL) {
		size_t n = st->in_len - st->in_off < len ? st->in_len - st->in_off : len;
		memcpy(buf, st->in + st->in_off, n);
		st->in_off += n;
		if (st->in_off == st->in_len) {
			free(st->in); /* an SSH session keeps no probe buffer */
			st->in = NULL;
		}
		return (ssize_t)n;
	}
	return transport_read(st->lower, buf, len);
}

static ssize_t stealth_write(struct transport *t, const void *buf, size_t len)
{
	struct stealth_transport *st = st_of(t);

	if (st->mode == STEALTH_SSH)
		return transport_write(st->lower, buf, len);
	errno = st->mode == STEALTH_DONE ? ECONNRESET : EAGAIN; /* no banner before the client's */
	return -1;
}

static size_t stealth_buffered(const struct transport *t)
{
	const struct stealth_transport *st = (const struct stealth_transport *)t;

	if (st->mode != STEALTH_SSH)
		return 0;
	return (st->in ? st->in_len - st->in_off : 0) + transport_buffered(st->lower);
}

static size_t stealth_unsent(const struct transport *t)
{
	const struct stealth_transport *st = (const struct stealth_transport *)t;

	return st->out_len - st->out_off + (st->lower ? transport_unsent(st->lower) : 0);
}

/* Pass-through: the stream is ended below (TLS shuts the plain layer under it). */
static void stealth_shut(struct transport *t)
{
	struct stealth_transport *st = st_of(t);

	if (st->mode == STEALTH_SSH)
		transport_shut(st->lower);
}

static int stealth_want(struct transport *t, unsigned events)
{
	struct stealth_transport *st = st_of(t);

	st->owner_want = events;
	if (st->mode == STEALTH_SSH)
		return transport_want(st->lower, events);
	return 0; /* the probe's own needs drive the lower transport */
}

static void stealth_free_cb(struct loop *l, void *ctx)
{
	struct stealth_transport *st = ctx;

	(void)l;
	free(st->in);
	free(st);
}

static void stealth_close(struct transport *t)
{
	struct stealth_transport *st = st_of(t);

	loop_timer_stop(st->loop, &st->timer);
	st->mode = STEALTH_DONE;
	transport_close(st->lower);
	st->lower = NULL;
	loop_defer(st->loop, stealth_free_cb, st);
}

static const struct transport_ops stealth_ops = {
	.name = "tls",
	.read = stealth_read,
	.write = stealth_write,
	.buffered = stealth_buffered,
	.unsent = stealth_unsent,
	.shut = stealth_shut,
	.want = stealth_want,
	.close = stealth_close,
};

static struct stealth_transport *stealth_make(struct loop *l, struct transport *lower,
					      const char *addr)
{
	struct stealth_transport *st = xcalloc(1, sizeof(*st));

	st->base.ops = &stealth_ops;
	st->base.late_start = true;
	st->lower = lower;
	st->loop = l;
	st->in = xmalloc(STEALTH_BUF);
	snprintf(st->addr, sizeof(st->addr), "%s", addr);
	loop_timer_init(&st->timer);
	st->accepted = loop_now_ms(l);
	lower->cb = lower_cb;
	lower->ctx = st;
	transport_want(lower, TRANSPORT_READ);
	return st;
}

struct transport *transport_stealth_new(struct loop *l, struct transport *lower, const char *addr,
					struct transport *under)
{
	struct stealth_transport *st = stealth_make(l, lower, addr);

	st->under = under != NULL ? st_of(under) : NULL;
	set_timer(st, STEALTH_HEADER_MS); /* silence, or a TLS handshake that stops */
	return &st->base;
}

struct transport *transport_stealth_plain_new(struct loop *l, struct transport *lower,
					      const char *addr)
{
	struct stealth_transport *st = stealth_make(l, lower, addr);

	st->plain = true; /* no clock until plain HTTP: the one over TLS times the rest */
	return &st->base;
}
