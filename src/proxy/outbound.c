/* Outbound connections for channels: direct, or through the configured SOCKS5, SOCKS5h or
 * HTTP CONNECT proxy. The proxy path is a small state machine on the loop:
 *
 *   [socks5:// and a name: resolve the destination] -> connect to the proxy (direct.c)
 *   -> SOCKS5 greeting [-> RFC 1929 login] -> CONNECT      or      HTTP CONNECT request
 *   -> reply parsed from whatever is buffered -> the fd and any tunnel bytes that came with
 *      the reply go to the caller.
 *
 * One timer bounds all of it. Nothing here logs a destination: failures the operator must fix
 * (proxy unreachable, login refused, proxy not speaking the protocol) log one rate-limited WARN
 * line naming the proxy; everything else only becomes the channel's failure text. */
#include "outbound.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../log.h"
#include "../loop.h"
#include "../policy.h"
#include "../resolve.h"
#include "../xmalloc.h"
#include "direct.h"
#include "http_connect.h"
#include "proxy_url.h"
#include "socks5.h"

/* SOCKS5 replies are at most 262 bytes; the rest of this buffer takes tunnel bytes that come in
 * the same segment. HTTP uses HTTP_CONNECT_MAX_HEADER. */
#define OUTBOUND_SOCKS_BUF	  2048
#define OUTBOUND_WARN_INTERVAL_MS 10000

enum outbound_state {
	OB_DIRECT = 0,	  /* no proxy: direct.c does everything */
	OB_RESOLVING = 1, /* socks5://: looking the destination up */
	OB_DIALING = 2,	  /* connecting to the proxy */
	OB_S5_METHOD = 3, /* greeting sent, waiting for the method choice */
	OB_S5_AUTH = 4,	  /* RFC 1929 request sent, waiting for the status */
	OB_S5_REPLY = 5,  /* CONNECT sent, waiting for the reply */
	OB_HTTP = 6,	  /* CONNECT sent, reading the response header */
	OB_FAILED = 7,	  /* failed before starting: the timer delivers o->error */
};

struct outbound {
	struct outbound_env *env;
	struct loop *loop;
	struct resolver *resolver;
	const struct proxy_url *proxy; /* borrowed from the config; NULL: direct */
	char *host;		       /* destination, for the HTTP request */
	uint16_t port;
	struct socks5_addr dst;	  /* destination as the SOCKS5 CONNECT carries it */
	struct resolve_req *req;  /* while resolving the destination */
	struct direct_conn *dial; /* while connecting (to the target or the proxy) */
	int fd;			  /* proxy socket during the handshake, else -1 */
	struct loop_io io;
	struct loop_timer timer;
	uint64_t deadline_ms;
	enum outbound_state state;
	const char *error;		  /* OB_FAILED only */
	const struct dial_filter *filter; /* borrowed; NULL: any destination address */
	bool denied;			  /* the filter refused every address */
	uint8_t *out;			  /* request being sent; may hold the password: wiped */
	size_t out_len, out_off;
	uint8_t *in; /* what the proxy sent; in[in_off..in_len) is unparsed */
	size_t in_len, in_off, in_cap;
	struct http_connect_resp http;
	char errbuf[64]; /* a composed failure text ("proxy: HTTP 502") */
	bool finished;	 /* the callback is running */
	outbound_cb *cb;
	void *ctx;
};

static void outbound_drop_out(struct outbound *o)
{
	if (o->out != NULL) {
		freezero(o->out, o->out_len);
		o->out = NULL;
	}
	o->out_len = o->out_off = 0;
}

/* Releases everything but the struct and the input buffer (which may hold the early bytes). */
static void outbound_release(struct outbound *o)
{
	loop_timer_stop(o->loop, &o->timer);
	resolve_cancel(o->req);
	o->req = NULL;
	direct_cancel(o->dial);
	o->dial = NULL;
	loop_io_stop(o->loop, &o->io);
	if (o->fd != -1) {
		close(o->fd);
		o->fd = -1;
	}
	outbound_drop_out(o);
}

static void outbound_free(struct outbound *o)
{
	free(o->host);
	free(o->in);
	free(o);
}

/* Ends the outbound: on success (error NULL) hands over the socket and the bytes after the
 * reply (in[in_off..in_len)); otherwise -1 and the text. o is freed when the callback returns;
 * an outbound_cancel() from inside the callback is a no-op. */
static void outbound_finish(struct outbound *o, const char *error)
{
	struct outbound_result r = {.fd = -1, .error = error, .denied = o->denied};

	if (error == NULL) {
		loop_io_stop(o->loop, &o->io);
		r.fd = o->fd;
		o->fd = -1;
		if (o->in != NULL) {
			r.early = o->in + o->in_off;
			r.early_len = o->in_len - o->in_off;
		}
	}
	/* The failure text is for the client only: it can describe the destination. */
	outbound_release(o);
	o->finished = true;
	o->cb(o->ctx, &r);
	outbound_free(o);
}

/* One WARN line per kind per OUTBOUND_WARN_INTERVAL_MS, naming the proxy (never its password,
 * never the destination) and how many were held back since the last line. The state is the
 * loop's (struct outbound_env). */
static void outbound_warn(struct outbound *o, enum outbound_warn kind, const char *text)
{
	static const char *const what[OB_WARN_KINDS] = {
		"proxy unreachable", "proxy authentication failed", "proxy protocol error"};
	struct outbound_warn_state *seen = o->env->warn;
	uint64_t now = loop_now_ms(o->loop);
	char desc[320];

	if (kind == OB_WARN_NONE) {
		return;
	}
	if (seen[kind].used && now - seen[kind].last_ms < OUTBOUND_WARN_INTERVAL_MS) {
		seen[kind].held++;
		return;
	}
	proxy_url_describe(o->proxy, desc, sizeof(desc));
	if (strncmp(text, "proxy: ", 7) == 0) {
		text += 7;
	}
	if (seen[kind].held > 0) {
		log_warn("%s proxy=%s reason=\"%s\" suppressed=%u", what[kind], desc, text,
			 seen[kind].held);
	} else {
		log_warn("%s proxy=%s reason=\"%s\"", what[kind], desc, text);
	}
	seen[kind].used = true;
	seen[kind].last_ms = now;
	seen[kind].held = 0;
}

/* Fails the handshake: warns when it is the operator's problem, then finishes. Returns -1 so
 * state handlers can `return outbound_fail(...)`: o is gone after it. */
static int outbound_fail(struct outbound *o, enum outbound_warn kind, const char *text)
{
	outbound_warn(o, kind, text);
	outbound_finish(o, text);
	return -1;
}

/* Sends what is left of o->out. Returns 0 (done, or LOOP_WRITE armed for the rest) or -1 when
 * the outbound failed and is gone. */
static int outbound_flush(struct outbound *o)
{
	while (o->out_off < o->out_len) {
		ssize_t n = send(o->fd, o->out + o->out_off, o->out_len - o->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			o->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (loop_io_set(o->loop, &o->io, LOOP_READ | LOOP_WRITE) != 0) {
				return outbound_fail(o, OB_WARN_NONE, "proxy: connect failed");
			}
			return 0;
		}
		return outbound_fail(o, OB_WARN_NONE, "proxy: connection closed");
	}
	outbound_drop_out(o);
	if (loop_io_set(o->loop, &o->io, LOOP_READ) != 0) {
		return outbound_fail(o, OB_WARN_NONE, "proxy: connect failed");
	}
	return 0;
}

/* Queues msg (xmalloc'd, ownership taken) as the next request and starts sending it. Returns
 * 0, or -1 when o is gone. */
static int outbound_send(struct outbound *o, uint8_t *msg, size_t len)
{
	outbound_drop_out(o);
	o->out = msg;
	o->out_len = len;
	o->out_off = 0;
	return outbound_flush(o);
}

/* Sends the SOCKS5 CONNECT. Returns 1 (go on parsing) or -1 (o is gone). */
static int outbound_s5_connect(struct outbound *o)
{
	uint8_t *req = xmalloc(SOCKS5_MAX_REQUEST);
	int n = socks5_connect_request(req, SOCKS5_MAX_REQUEST, &o->dst);

	if (n < 0) {
		free(req);
		return outbound_fail(o, OB_WARN_NONE, "invalid destination");
	}
	o->state = OB_S5_REPLY;
	return outbound_send(o, req, (size_t)n) == 0 ? 1 : -1;
}

/* Sends the RFC 1929 login. Returns 1 or -1 (o is gone). */
static int outbound_s5_login(struct outbound *o)
{
	uint8_t *req = xmalloc(SOCKS5_MAX_REQUEST);
	int n = socks5_auth_request(req, SOCKS5_MAX_REQUEST, o->proxy->user, o->proxy->pass);

	if (n < 0) {
		freezero(req, SOCKS5_MAX_REQUEST);
		return outbound_fail(o, OB_WARN_AUTH, "proxy: authentication failed");
	}
	o->state = OB_S5_AUTH;
	return outbound_send(o, req, (size_t)n) == 0 ? 1 : -1;
}

/* The proxy's method choice. Returns 1 (progress), 0 (need more) or -1 (o is gone). */
static int outbound_s5_method(struct outbound *o, const uint8_t *p, size_t len)
{
	uint8_t m = 0;
	int n = socks5_parse_method(p, len, &m);

	if (n == 0) {
		return 0;
	}
	if (n < 0) {
		return outbound_fail(o, OB_WARN_PROTOCOL, "proxy: bad reply");
	}
	o->in_off += (size_t)n;
	if (m == SOCKS5_METHOD_NONE) {
		return outbound_s5_connect(o);
	}
	if (m == SOCKS5_METHOD_USERPASS && o->proxy->user != NULL) {
		return outbound_s5_login(o);
	}
	if (m == SOCKS5_METHOD_UNACCEPTABLE) {
		return outbound_fail(o, OB_WARN_AUTH,
				     o->proxy->user ? "proxy: no acceptable authentication method"
						    : "proxy: authentication required");
	}
	return outbound_fail(o, OB_WARN_PROTOCOL, "proxy: bad reply");
}

static int outbound_s5_auth(struct outbound *o, const uint8_t *p, size_t len)
{
	uint8_t status = 0;
	int n = socks5_parse_auth(p, len, &status);

	if (n == 0) {
		return 0;
	}
	if (n < 0) {
		return outbound_fail(o, OB_WARN_PROTOCOL, "proxy: bad reply");
	}
	o->in_off += (size_t)n;
	if (status != 0) {
		return outbound_fail(o, OB_WARN_AUTH, "proxy: authentication failed");
	}
	return outbound_s5_connect(o);
}

/* "proxy: SOCKS5 connection refused": the proxy speaks for the target, so the text differs
 * from "proxy: connection refused" (the proxy itself refused us). */
static int outbound_s5_refused(struct outbound *o, unsigned rep)
{
	if (rep <= SOCKS5_REP_ATYP_UNSUPPORTED) {
		snprintf(o->errbuf, sizeof(o->errbuf), "proxy: SOCKS5 %s", socks5_rep_text(rep));
	} else {
		snprintf(o->errbuf, sizeof(o->errbuf), "proxy: SOCKS5 reply %u", rep);
	}
	return outbound_fail(o, OB_WARN_NONE, o->errbuf);
}

static int outbound_s5_reply(struct outbound *o, const uint8_t *p, size_t len)
{
	struct socks5_reply rep;
	int n = socks5_parse_reply(p, len, &rep);

	if (n == 0) {
		return 0;
	}
	if (n < 0) {
		return outbound_fail(o, OB_WARN_PROTOCOL, "proxy: bad reply");
	}
	if (rep.rep != SOCKS5_REP_OK) {
		return outbound_s5_refused(o, rep.rep);
	}
	o->in_off += (size_t)n;
	outbound_finish(o, NULL);
	return -1;
}

static int outbound_http(struct outbound *o, const uint8_t *p, size_t len)
{
	int n = http_connect_parse(&o->http, p, len);
	unsigned st = o->http.status;

	if (n == 0) {
		return 0;
	}
	if (n == -EMSGSIZE) {
		return outbound_fail(o, OB_WARN_PROTOCOL, "proxy: reply header too large");
	}
	if (n < 0) {
		return outbound_fail(o, OB_WARN_PROTOCOL, "proxy: bad reply");
	}
	if (st >= 200 && st <= 299) {
		o->in_off += (size_t)n;
		outbound_finish(o, NULL);
		return -1;
	}
	if (st == 407 || st == 401) {
		return outbound_fail(o, OB_WARN_AUTH,
				     o->proxy->user ? "proxy: authentication failed"
						    : "proxy: authentication required");
	}
	snprintf(o->errbuf, sizeof(o->errbuf), "proxy: HTTP %u", st);
	return outbound_fail(o, OB_WARN_NONE, o->errbuf);
}

/* Parses as many replies as are buffered. Returns 0 (need more) or -1 (o is gone). */
static int outbound_parse(struct outbound *o)
{
	int ret;

	do {
		const uint8_t *p = o->in + o->in_off;
		size_t len = o->in_len - o->in_off;
		switch (o->state) {
		case OB_S5_METHOD:
			ret = outbound_s5_method(o, p, len);
			break;
		case OB_S5_AUTH:
			ret = outbound_s5_auth(o, p, len);
			break;
		case OB_S5_REPLY:
			ret = outbound_s5_reply(o, p, len);
			break;
		case OB_HTTP:
			ret = outbound_http(o, p, len);
			break;
		default:
			ret = 0;
			break;
		}
	} while (ret > 0);
	return ret;
}

/* The proxy closed (or reset) before a complete reply. A SOCKS5 proxy that sends only VER REP
 * of a failure before closing still gets its reason reported. */
static void outbound_closed(struct outbound *o)
{
	const uint8_t *p = o->in + o->in_off;

	if (o->state == OB_S5_REPLY && o->in_len - o->in_off >= 2 && p[0] == SOCKS5_VERSION &&
	    p[1] != SOCKS5_REP_OK) {
		outbound_s5_refused(o, p[1]);
		return;
	}
	outbound_fail(o, OB_WARN_NONE, "proxy: connection closed");
}

static void outbound_read(struct outbound *o)
{
	if (o->in_len == o->in_cap) {
		/* only a proxy sending far more than it was asked for gets here */
		outbound_fail(o, OB_WARN_PROTOCOL, "proxy: bad reply");
		return;
	}
	ssize_t n = recv(o->fd, o->in + o->in_len, o->in_cap - o->in_len, 0);
	if (n > 0) {
		o->in_len += (size_t)n;
		outbound_parse(o);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		return;
	}
	outbound_closed(o);
}

static void outbound_on_io(struct loop *l, struct loop_io *io, unsigned events)
{
	struct outbound *o = io->ctx;

	(void)l;
	if ((events & LOOP_WRITE) && outbound_flush(o) != 0) {
		return;
	}
	if (events & (LOOP_READ | LOOP_ERROR)) {
		outbound_read(o);
	}
}

/* Connected to the proxy: registers the socket and sends the first request. */
static void outbound_handshake(struct outbound *o)
{
	bool http = o->proxy->scheme == PROXY_HTTP;
	const struct proxy_url *px = o->proxy;
	uint8_t *msg;
	size_t len;

	o->in_cap = http ? HTTP_CONNECT_MAX_HEADER : OUTBOUND_SOCKS_BUF;
	o->in = xmalloc(o->in_cap);
	if (loop_io_start(o->loop, &o->io, o->fd, LOOP_READ, outbound_on_io, o) != 0) {
		outbound_fail(o, OB_WARN_NONE, "proxy: connect failed");
		return;
	}
	if (http) {
		msg = (uint8_t *)http_connect_request(o->host, o->port, px->user, px->pass, &len);
		o->state = OB_HTTP;
	} else {
		msg = xmalloc(4);
		len = socks5_greeting(msg, px->user != NULL);
		o->state = OB_S5_METHOD;
	}
	outbound_send(o, msg, len);
}

static const char *outbound_dial_text(enum dial_err err)
{
	switch (err) {
	case DIAL_REFUSED:
		return "proxy: connection refused";
	case DIAL_TIMEOUT:
		return "proxy: timed out";
	case DIAL_UNREACHABLE:
		return "proxy: unreachable";
	case DIAL_RESOLVE:
		return "proxy: name not resolved";
	default:
		return "proxy: connect failed";
	}
}

static void outbound_on_proxy(void *ctx, int fd, enum dial_err err)
{
	struct outbound *o = ctx;

	o->dial = NULL;
	if (err != DIAL_OK) {
		outbound_fail(o, OB_WARN_UNREACHABLE, outbound_dial_text(err));
		return;
	}
	o->fd = fd;
	outbound_handshake(o);
}

/* Connects to the proxy within what is left of the timeout (our own timer stays the limit). */
static void outbound_dial_proxy(struct outbound *o)
{
	uint64_t now = loop_now_ms(o->loop);
	uint64_t left = o->deadline_ms > now ? o->deadline_ms - now : 1;

	o->state = OB_DIALING;
	o->dial = direct_connect(o->loop, o->resolver, o->proxy->host, o->proxy->port, left + 1000,
				 outbound_on_proxy, o);
}

/* socks5://: the destination's first address the filter allows goes into the CONNECT. */
static void outbound_on_resolved(void *ctx, int err, struct addrinfo *res)
{
	struct outbound *o = ctx;

	o->req = NULL;
	if (err != 0) {
		bool name = err == EAI_NONAME || err == EAI_NODATA || err == EAI_AGAIN ||
			    err == EAI_FAIL;
		outbound_finish(o, name ? "name not resolved" : "connect failed");
		return;
	}
	struct addrinfo *ai = res;
	while (ai != NULL && o->filter && !o->filter->allow(o->filter->ctx, ai->ai_addr))
		ai = ai->ai_next;
	int ret = ai ? socks5_addr_from_sockaddr(&o->dst, ai->ai_addr) : -1;
	freeaddrinfo(res);
	if (ai == NULL) {
		o->denied = true;
		outbound_finish(o, dial_strerror(DIAL_DENIED));
		return;
	}
	if (ret != 0) {
		outbound_finish(o, "name not resolved");
		return;
	}
	outbound_dial_proxy(o);
}

static void outbound_on_timeout(struct loop *l, void *ctx)
{
	struct outbound *o = ctx;

	(void)l;
	if (o->state == OB_FAILED) {
		outbound_finish(o, o->error);
		return;
	}
	outbound_fail(o, o->state == OB_DIALING ? OB_WARN_UNREACHABLE : OB_WARN_NONE,
		      "proxy: timed out");
}

/* Direct mode: direct.c's result passes through unchanged. */
static void outbound_on_direct(void *ctx, int fd, enum dial_err err)
{
	struct outbound *o = ctx;

	o->dial = NULL;
	o->fd = fd;
	o->denied = err == DIAL_DENIED;
	outbound_finish(o, err == DIAL_OK ? NULL : dial_strerror(err));
}

/* channel.c refuses these before calling us; checked again (with the same policy_check)
 * because sending a reserved name or a malformed one to a proxy must never happen. Returns
 * NULL or the failure text. */
static const char *outbound_check_dest(const char *host, uint16_t port)
{
	enum policy_verdict v = policy_check(host, strlen(host), port);

	return v == POLICY_ALLOW ? NULL : policy_reason_text(v);
}

/* Fails from the loop, not from inside outbound_start: the timer delivers o->error. */
static void outbound_fail_later(struct outbound *o, const char *text)
{
	o->state = OB_FAILED;
	o->error = text;
	loop_timer_start(o->loop, &o->timer, 0, outbound_on_timeout, o);
}

/* Starts the proxy path: socks5:// resolves a name first; socks5h:// and http:// never look
 * the destination up, and an IP literal needs no lookup in any mode. */
static void outbound_start_proxy(struct outbound *o, const char *host, uint16_t port)
{
	enum proxy_scheme sch = o->proxy->scheme;

	o->host = xstrdup(host);
	o->port = port;
	if (sch == PROXY_HTTP ||
	    socks5_addr_from_host(&o->dst, host, port, sch == PROXY_SOCKS5H) == 0) {
		outbound_dial_proxy(o);
	} else if (sch == PROXY_SOCKS5) {
		o->state = OB_RESOLVING;
		o->req = resolve_start(o->resolver, host, port, outbound_on_resolved, o);
	} else {
		outbound_fail_later(o, "invalid destination");
	}
}

struct outbound *outbound_start(struct outbound_env *env, const struct proxy_url *proxy,
				const char *host, uint16_t port, uint64_t timeout_ms,
				outbound_cb *cb, void *ctx)
{
	return outbound_start_filtered(env, proxy, host, port, timeout_ms, NULL, cb, ctx);
}

struct outbound *outbound_start_filtered(struct outbound_env *env, const struct proxy_url *proxy,
					 const char *host, uint16_t port, uint64_t timeout_ms,
					 const struct dial_filter *filter, outbound_cb *cb,
					 void *ctx)
{
	struct outbound *o = xcalloc(1, sizeof(*o));
	const char *bad = outbound_check_dest(host, port);
	struct loop *l = env->loop;
	struct resolver *r = env->resolver;

	o->env = env;
	o->loop = l;
	o->resolver = r;
	o->proxy = proxy;
	o->fd = -1;
	o->cb = cb;
	o->ctx = ctx;
	o->filter = filter;
	loop_timer_init(&o->timer);
	if (bad != NULL) {
		outbound_fail_later(o, bad);
		return o;
	}
	if (proxy == NULL) {
		o->state = OB_DIRECT;
		o->dial = direct_connect_filtered(l, r, host, port, timeout_ms, filter,
						  outbound_on_direct, o);
		return o;
	}
	o->deadline_ms = loop_now_ms(l) + timeout_ms;
	loop_timer_start(l, &o->timer, timeout_ms, outbound_on_timeout, o);
	outbound_start_proxy(o, host, port);
	return o;
}

/* Aborts at any stage: the lookup, the connect, the handshake; closes the socket and frees o.
 * The callback never runs. A no-op from inside the callback (o is freed when it returns). */
void outbound_cancel(struct outbound *o)
{
	if (o == NULL || o->finished) {
		return;
	}
	outbound_release(o);
	outbound_free(o);
}
