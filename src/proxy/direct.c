/* Outbound TCP without a proxy: resolve through the resolver pool, then a non-blocking connect
 * to each address in turn, all under one overall timer. Logs nothing: destinations are
 * private, and the caller reports failures by id. */
#include "direct.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../loop.h"
#include "../net.h"
#include "../resolve.h"
#include "../xmalloc.h"

struct direct_conn {
	struct loop *loop;
	struct resolve_req *req; /* non-NULL while resolving */
	struct addrinfo *res;	 /* owned once resolved */
	struct addrinfo *cur;	 /* address being tried */
	int fd;			 /* socket being connected, or -1 */
	struct loop_io io;
	struct loop_timer timer;
	enum dial_err best; /* most meaningful failure so far */
	const struct dial_filter *filter;
	unsigned tried; /* addresses the filter let through */
	bool finished;	/* callback called; freed by a defer */
	dial_cb *cb;
	void *ctx;
};

static void direct_try_next(struct direct_conn *c);

/* Rank of an error when several addresses fail: refused says most about the target. */
static int direct_err_rank(enum dial_err err)
{
	switch (err) {
	case DIAL_REFUSED:
		return 4;
	case DIAL_UNREACHABLE:
		return 3;
	case DIAL_TIMEOUT:
		return 2;
	case DIAL_OTHER:
		return 1;
	default:
		return 0;
	}
}

static void direct_note_errno(struct direct_conn *c, int err)
{
	enum dial_err e;

	switch (err) {
	case ECONNREFUSED:
		e = DIAL_REFUSED;
		break;
	case ENETUNREACH:
	case EHOSTUNREACH:
		e = DIAL_UNREACHABLE;
		break;
	case ETIMEDOUT:
		e = DIAL_TIMEOUT;
		break;
	default:
		e = DIAL_OTHER;
		break;
	}
	if (direct_err_rank(e) > direct_err_rank(c->best)) {
		c->best = e;
	}
}

/* Closes the socket being tried, unregistering it first. */
static void direct_drop_socket(struct direct_conn *c)
{
	loop_io_stop(c->loop, &c->io);
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Releases everything except the struct itself: timer, lookup, result list, socket. */
static void direct_release(struct direct_conn *c)
{
	loop_timer_stop(c->loop, &c->timer);
	resolve_cancel(c->req);
	c->req = NULL;
	if (c->res != NULL) {
		freeaddrinfo(c->res);
		c->res = NULL;
	}
	c->cur = NULL;
	direct_drop_socket(c);
}

static void direct_free_cb(struct loop *l, void *ctx)
{
	(void)l;
	free(ctx);
}

/* Ends the dial: hands the connected fd (err == DIAL_OK) or -1 to the callback after
 * releasing everything else. The struct itself is freed by a defer after the callback, so
 * the callback may do anything, even call direct_cancel() on c (a no-op by then). */
static void direct_finish(struct direct_conn *c, enum dial_err err)
{
	int fd = -1;

	if (err == DIAL_OK) {
		loop_io_stop(c->loop, &c->io);
		fd = c->fd;
		c->fd = -1;
		(void)net_set_nodelay(fd);
	}
	direct_release(c);
	c->finished = true;
	loop_defer(c->loop, direct_free_cb, c);
	c->cb(c->ctx, fd, err);
}

/* Loop callback once the pending connect resolves: SO_ERROR tells success from failure. On
 * failure the next address is tried. */
static void direct_on_writable(struct loop *l, struct loop_io *io, unsigned events)
{
	struct direct_conn *c = io->ctx;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)l;
	(void)events;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1) {
		soerr = errno;
	}
	/* A refused SYN is ECONNREFUSED; ECONNRESET means the connection was made and the
	 * target reset it at once (after sending, perhaps): hand it over, so that what it sent
	 * is still delivered, then the end (sshd refuses the channel instead). */
	if (soerr == 0 || soerr == ECONNRESET) {
		direct_finish(c, DIAL_OK);
		return;
	}
	direct_note_errno(c, soerr);
	direct_drop_socket(c);
	c->cur = c->cur->ai_next;
	direct_try_next(c);
}

/* Starts a connect to c->cur. Returns 1 when connected already, 0 when in progress (io
 * registered for LOOP_WRITE), or -errno (no socket left open). */
static int direct_connect_one(struct direct_conn *c)
{
	struct addrinfo *ai = c->cur;
	int ret;

	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		return -errno;
	}
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		return 1;
	}
	if (errno != EINPROGRESS) {
		ret = -errno;
		direct_drop_socket(c);
		return ret;
	}
	ret = loop_io_start(c->loop, &c->io, c->fd, LOOP_WRITE, direct_on_writable, c);
	if (ret != 0) {
		direct_drop_socket(c);
		return ret;
	}
	return 0;
}

/* Tries c->cur and the addresses after it until one connects or is in progress. With none
 * left, finishes with the most meaningful error seen. Always runs from a loop callback. */
static void direct_try_next(struct direct_conn *c)
{
	for (; c->cur != NULL; c->cur = c->cur->ai_next) {
		if (c->filter && !c->filter->allow(c->filter->ctx, c->cur->ai_addr))
			continue;
		c->tried++;
		int ret = direct_connect_one(c);
		if (ret == 1) {
			direct_finish(c, DIAL_OK);
			return;
		}
		if (ret == 0) {
			return;
		}
		direct_note_errno(c, -ret);
	}
	if (c->tried == 0 && c->filter != NULL)
		direct_finish(c, DIAL_DENIED);
	else
		direct_finish(c, c->best != DIAL_OK ? c->best : DIAL_OTHER);
}

static void direct_on_resolved(void *ctx, int err, struct addrinfo *res)
{
	struct direct_conn *c = ctx;

	c->req = NULL;
	if (err != 0) {
		bool name = err == EAI_NONAME || err == EAI_NODATA || err == EAI_AGAIN ||
			    err == EAI_FAIL;
		direct_finish(c, name ? DIAL_RESOLVE : DIAL_OTHER);
		return;
	}
	c->res = res;
	c->cur = res;
	direct_try_next(c);
}

static void direct_on_timeout(struct loop *l, void *ctx)
{
	(void)l;
	direct_finish(ctx, DIAL_TIMEOUT);
}

/* Starts dialing host:port (only the addresses filter allows; NULL: all); the overall timeout
 * covers resolution and every connect. cb runs exactly once, later, from the loop, unless
 * direct_cancel() comes first. Returns the handle, valid until the callback returns. */
struct direct_conn *direct_connect(struct loop *l, struct resolver *r, const char *host,
				   uint16_t port, uint64_t timeout_ms, dial_cb *cb, void *ctx)
{
	return direct_connect_filtered(l, r, host, port, timeout_ms, NULL, cb, ctx);
}

struct direct_conn *direct_connect_filtered(struct loop *l, struct resolver *r, const char *host,
					    uint16_t port, uint64_t timeout_ms,
					    const struct dial_filter *filter, dial_cb *cb,
					    void *ctx)
{
	struct direct_conn *c = xcalloc(1, sizeof(*c));

	c->loop = l;
	c->fd = -1;
	c->cb = cb;
	c->ctx = ctx;
	c->best = DIAL_OK;
	c->filter = filter;
	loop_timer_init(&c->timer);
	loop_timer_start(l, &c->timer, timeout_ms, direct_on_timeout, c);
	c->req = resolve_start(r, host, port, direct_on_resolved, c);
	return c;
}

/* Aborts a dial at any stage: cancels the lookup, closes the socket, frees c; the callback
 * never runs. Within the callback itself it does nothing (c is freed by a defer). */
void direct_cancel(struct direct_conn *c)
{
	if (c == NULL || c->finished) {
		return;
	}
	direct_release(c);
	free(c);
}

const char *dial_strerror(enum dial_err err)
{
	switch (err) {
	case DIAL_OK:
		return "ok";
	case DIAL_REFUSED:
		return "connection refused";
	case DIAL_TIMEOUT:
		return "timed out";
	case DIAL_UNREACHABLE:
		return "network or host unreachable";
	case DIAL_RESOLVE:
		return "name not resolved";
	case DIAL_DENIED:
		return "destination not allowed";
	case DIAL_OTHER:
		break;
	}
	return "connect failed";
}
