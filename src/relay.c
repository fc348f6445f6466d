/* The relay between a target socket and the client side of a channel (relay.h).
 * Client -> target: sent straight from the engine's input (relay_queue, one sendmsg per pass),
 * the rest kept in tbuf, the window granted back only for bytes the socket took.
 * Target -> client: read straight into the owner's packets, only as much as space() allows.
 * A target error never loses what the target sent before it: a read error is the end of its
 * data, a failed write ends only the client -> target direction (OpenSSH's chan_read_failed
 * and chan_write_failed), and done() comes once both directions are over. */
#include "relay.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RELAY_READS_PER_WAKEUP 4
#define RELAY_IOV	       8
#define RELAY_BYTES_PER_WAKEUP (512 * 1024)

static void relay_io_cb(struct loop *l, struct loop_io *io, unsigned events);

static bool relay_live(const struct relay *r)
{
	return r->fd != -1 && !r->finished;
}

/* Both directions are over: tells the owner, once. The owner may release r in done(). */
static void relay_finish(struct relay *r)
{
	if (r->finished)
		return;
	r->finished = true;
	r->ops->done(r->ctx);
}

/* Reads from the target straight into the owner's packets, several per readv(). A read error
 * counts as the end of the target's data: everything it sent before has been read by then
 * (on Linux the bytes queued before a RST stay readable). */
static void read_target(struct relay *r)
{
	struct iovec iov[RELAY_IOV];
	size_t total = 0;

	for (int i = 0; i < RELAY_READS_PER_WAKEUP && total < RELAY_BYTES_PER_WAKEUP; i++) {
		size_t cnt = r->ops->reserve(r->ctx, iov, RELAY_IOV);
		if (cnt == 0)
			break;
		ssize_t n = readv(r->fd, iov, (int)cnt);
		if (n > 0) {
			r->ops->commit(r->ctx, (size_t)n);
			total += (size_t)n;
			continue;
		}
		r->ops->commit(r->ctx, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		r->target_eof = true;
		r->ops->eof(r->ctx);
		break;
	}
}

/* The target no longer takes data (EPIPE, ECONNRESET, ...): what the client sent is dropped
 * and its window handed back, so the client is never stalled; the target is still read. */
static void write_failed(struct relay *r, size_t dropped)
{
	dropped += r->tbuf.len - r->toff;
	sbuf_free(&r->tbuf);
	r->toff = 0;
	r->write_failed = true;
	r->shut_wr = true;
	if (dropped > 0)
		r->ops->consumed(r->ctx, dropped);
}

/* Sends buffered client data to the target; grants window for what it took. */
static void flush_tbuf(struct relay *r)
{
	while (r->tbuf.len > r->toff) {
		ssize_t n =
			send(r->fd, r->tbuf.data + r->toff, r->tbuf.len - r->toff, MSG_NOSIGNAL);
		if (n > 0) {
			r->toff += (size_t)n;
			r->ops->consumed(r->ctx, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		write_failed(r, 0);
		return;
	}
	sbuf_free(&r->tbuf);
	r->toff = 0;
}

/* Moves r's spans into tbuf, in order: the batch is full or r has to buffer anyway. */
static void unbatch(struct relay *r)
{
	struct relay_batch *b = r->batch;

	for (int i = 0; i < b->n; i++) {
		if (b->span[i].r == r) {
			sbuf_put(&r->tbuf, b->span[i].p, b->span[i].len);
			b->span[i].r = NULL;
		}
	}
	r->batched = false;
}

/* Sends r's spans of this pass in one sendmsg, grants window for what the socket took and
 * buffers the rest (tbuf is empty while r has spans). */
static void write_batched(struct relay *r)
{
	struct relay_batch *b = r->batch;
	struct iovec iov[RELAY_BATCH_SPANS];
	size_t all = 0;
	int n = 0;

	for (int i = 0; i < b->n; i++) {
		if (b->span[i].r == r) {
			iov[n++] = (struct iovec){(void *)b->span[i].p, b->span[i].len};
			all += b->span[i].len;
			b->span[i].r = NULL;
		}
	}
	r->batched = false;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
	ssize_t w;
	do {
		w = sendmsg(r->fd, &msg, MSG_NOSIGNAL);
	} while (w == -1 && errno == EINTR);
	if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		write_failed(r, all);
		return;
	}
	size_t sent = w > 0 ? (size_t)w : 0;
	if (sent > 0)
		r->ops->consumed(r->ctx, sent);
	for (int i = 0; i < n; i++) {
		if (sent >= iov[i].iov_len) {
			sent -= iov[i].iov_len;
			continue;
		}
		sbuf_put(&r->tbuf, (uint8_t *)iov[i].iov_base + sent, iov[i].iov_len - sent);
		sent = 0;
	}
}

/* Early bytes go to the client before anything read later. Returns true while some are left. */
static bool send_early(struct relay *r)
{
	if (r->early.len == 0)
		return false;
	size_t n = r->ops->write(r->ctx, r->early.data, r->early.len);
	sbuf_consume(&r->early, n);
	if (r->early.len > 0)
		return true;
	sbuf_free(&r->early);
	return false;
}

/* True when the target may be read now: the client side has room, and no early bytes wait
 * ahead of new ones. */
static bool can_read(struct relay *r)
{
	return !r->draining && !r->target_eof && r->early.len == 0 && r->ops->space(r->ctx) > 0;
}

/* Asks the loop for `want`; a parked relay is registered again only when it wants something. */
static void relay_poll(struct relay *r, unsigned want)
{
	if (!r->parked) {
		loop_io_set(r->loop, &r->io, want);
		return;
	}
	if (want == 0)
		return;
	r->parked = false;
	loop_io_start(r->loop, &r->io, r->fd, want, relay_io_cb, r);
}

/* Re-evaluates what to poll for after anything changed; finishes when both directions are
 * over. Waits for relay_batch_flush while r has data in this pass. */
static void relay_update(struct relay *r)
{
	if (!relay_live(r) || r->dirty)
		return;
	bool pending = relay_pending(r);

	if (r->draining) {
		if (pending)
			relay_poll(r, LOOP_WRITE);
		else
			relay_finish(r);
		return;
	}
	bool early = send_early(r);
	if (r->client_eof && !pending && !r->shut_wr) {
		shutdown(r->fd, SHUT_WR);
		r->shut_wr = true;
	}
	if (r->target_eof && r->shut_wr) {
		relay_finish(r);
		return;
	}
	unsigned want = pending ? LOOP_WRITE : 0;
	if (!early && can_read(r))
		want |= LOOP_READ;
	relay_poll(r, want);
}

static void relay_io_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct relay *r = io->ctx;

	if (events & (LOOP_WRITE | LOOP_ERROR))
		flush_tbuf(r);
	if ((events & (LOOP_READ | LOOP_ERROR)) && !r->draining && !r->target_eof)
		read_target(r);
	if ((events & LOOP_ERROR) && !can_read(r) && !relay_pending(r)) {
		/* A reset or hang-up while the client side has no room: the bytes the target
		 * sent before it are still readable, so don't act on the error yet (sshd reads
		 * them too). Stop polling until there is room, or epoll would report the error
		 * again at once; reading then delivers the data, then the error as EOF. */
		loop_io_stop(l, io);
		r->parked = true;
	}
	relay_update(r);
}

void relay_init(struct relay *r, struct loop *l, const struct relay_ops *ops, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->loop = l;
	r->ops = ops;
	r->ctx = ctx;
	r->fd = -1;
}

void relay_start(struct relay *r, int fd, const uint8_t *early, size_t early_len)
{
	r->fd = fd;
	if (early_len > 0)
		sbuf_put(&r->early, early, early_len);
	/* Starts parked: relay_update() registers it with the events it wants, in one call. */
	r->parked = true;
	relay_update(r);
}

bool relay_pending(const struct relay *r)
{
	return r->batched || r->tbuf.len > r->toff;
}

void relay_queue(struct relay *r, struct relay_batch *b, const uint8_t *p, size_t len)
{
	if (!relay_live(r) || r->draining)
		return;
	if (r->write_failed) {
		r->ops->consumed(r->ctx, len);
		return;
	}
	if (!r->dirty) {
		r->dirty = true;
		r->batch = b;
		r->dirty_next = b->dirty;
		b->dirty = r;
	}
	if (r->tbuf.len == r->toff && b->n < RELAY_BATCH_SPANS) {
		b->span[b->n++] = (struct relay_span){r, p, len};
		r->batched = true;
		return;
	}
	if (r->batched)
		unbatch(r);
	/* Unsent bytes are bounded by the window we granted; drop the sent ones before they
	 * outnumber them, so the buffer stays within twice the window. */
	if (r->toff > 0 && r->toff * 2 >= r->tbuf.len) {
		memmove(r->tbuf.data, r->tbuf.data + r->toff, r->tbuf.len - r->toff);
		r->tbuf.len -= r->toff;
		r->toff = 0;
	}
	sbuf_put(&r->tbuf, p, len);
}

void relay_batch_flush(struct relay_batch *b)
{
	struct relay *r = b->dirty;

	b->dirty = NULL;
	while (r != NULL) {
		struct relay *next = r->dirty_next;
		r->dirty = false;
		r->dirty_next = NULL;
		if (relay_live(r)) {
			if (r->batched)
				write_batched(r);
			else
				flush_tbuf(r);
			relay_update(r);
		}
		r = next;
	}
	b->n = 0;
}

void relay_client_eof(struct relay *r)
{
	r->client_eof = true;
	relay_update(r);
}

void relay_resume(struct relay *r)
{
	relay_update(r);
}

void relay_drain(struct relay *r)
{
	r->draining = true;
	sbuf_free(&r->early);
	relay_update(r);
}

/* Takes r off its batch: its spans and its place on the dirty list. */
static void relay_unbatch_all(struct relay *r)
{
	struct relay_batch *b = r->batch;

	if (b == NULL)
		return;
	for (int i = 0; i < b->n; i++) {
		if (b->span[i].r == r)
			b->span[i].r = NULL;
	}
	for (struct relay **p = &b->dirty; *p != NULL; p = &(*p)->dirty_next) {
		if (*p == r) {
			*p = r->dirty_next;
			break;
		}
	}
	r->batched = r->dirty = false;
	r->dirty_next = NULL;
}

void relay_release(struct relay *r)
{
	if (r->fd != -1) {
		loop_io_close(r->loop, &r->io, r->fd);
		r->fd = -1;
	}
	relay_unbatch_all(r);
	sbuf_free(&r->tbuf);
	sbuf_free(&r->early);
	r->toff = 0;
	r->finished = true;
}
