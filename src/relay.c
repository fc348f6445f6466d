/* The relay between a target socket and its SSH channel. Client -> target: written straight
 * to the socket, the rest kept in c->tbuf, the window granted back only for bytes the socket
 * took. Target -> client: read straight into the SSH output buffer, only as much as the
 * client's window and the session's output limit allow. */
#include "relay.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "channel.h"
#include "server.h"
#include "session.h"
#include "ssh/ssh.h"

#define RELAY_READS_PER_WAKEUP 4
#define RELAY_IOV 8
#define RELAY_BYTES_PER_WAKEUP (512 * 1024)

static void relay_io_cb(struct loop *l, struct loop_io *io, unsigned events);

static struct ssh *chan_ssh(const struct channel *c)
{
	return c->sess->ssh;
}

/* Reads from the target straight into SSH_MSG_CHANNEL_DATA packets, several per readv().
 * Returns -1 if the channel ended. */
static int read_target(struct channel *c)
{
	struct ssh *ssh = chan_ssh(c);
	struct iovec iov[RELAY_IOV];
	size_t total = 0;

	for (int i = 0; i < RELAY_READS_PER_WAKEUP && total < RELAY_BYTES_PER_WAKEUP; i++) {
		size_t cnt = ssh_channel_data_reserve(ssh, c->sch, iov, RELAY_IOV);
		if (cnt == 0)
			break;
		ssize_t n = readv(c->fd, iov, (int)cnt);
		if (n > 0) {
			ssh_channel_data_commit(ssh, c->sch, (size_t)n);
			total += (size_t)n;
			continue;
		}
		ssh_channel_data_commit(ssh, c->sch, 0);
		if (n == 0) {
			c->target_eof = true;
			ssh_channel_send_eof(ssh, c->sch);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* A reset or other read error ends only what the target sends, after everything
		 * it sent before (still readable after a RST) has been read, as OpenSSH's
		 * chan_read_failed: CLOSE waits for the client's side to end too. */
		c->target_eof = true;
		ssh_channel_send_eof(ssh, c->sch);
		break;
	}
	return 0;
}

/* The target no longer takes data (EPIPE, ECONNRESET, ...): only the client -> target
 * direction ends, like OpenSSH's chan_write_failed. What the client sent is dropped and its
 * window handed back, so the client is never stalled; what the target sends is still read. */
static void target_write_failed(struct channel *c, size_t dropped)
{
	dropped += c->tbuf.len - c->toff;
	sbuf_free(&c->tbuf);
	c->toff = 0;
	c->write_failed = true;
	c->shut_wr = true;
	if (dropped > 0 && c->sch)
		ssh_channel_consumed(chan_ssh(c), c->sch, dropped);
}

/* Sends buffered client data to the target; grants window for what it took. */
static void flush_target(struct channel *c)
{
	while (c->tbuf.len > c->toff) {
		ssize_t n = send(c->fd, c->tbuf.data + c->toff, c->tbuf.len - c->toff, MSG_NOSIGNAL);
		if (n > 0) {
			c->toff += (size_t)n;
			if (c->sch)
				ssh_channel_consumed(chan_ssh(c), c->sch, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		target_write_failed(c, 0);
		return;
	}
	sbuf_free(&c->tbuf);
	c->toff = 0;
}

static struct relay_batch *batch_of(const struct channel *c)
{
	return &c->sess->srv->batch;
}

/* Moves c's spans into tbuf, in order: the batch is full or c has to buffer anyway. */
static void unbatch(struct channel *c)
{
	struct relay_batch *b = batch_of(c);

	for (int i = 0; i < b->n; i++) {
		if (b->span[i].c == c) {
			sbuf_put(&c->tbuf, b->span[i].p, b->span[i].len);
			b->span[i].c = NULL;
		}
	}
	c->batched = false;
}

bool relay_pending(const struct channel *c)
{
	return c->batched || c->tbuf.len > c->toff;
}

void relay_to_target(struct channel *c, const uint8_t *data, size_t len)
{
	if (c == NULL || c->fd == -1 || c->closing)
		return;
	if (c->write_failed) {
		ssh_channel_consumed(chan_ssh(c), c->sch, len);
		return;
	}
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = c->sess->dirty;
		c->sess->dirty = c;
	}
	struct relay_batch *b = batch_of(c);
	if (c->tbuf.len == c->toff && b->n < RELAY_BATCH_SPANS) {
		b->span[b->n++] = (struct relay_span){ c, data, len };
		c->batched = true;
		return;
	}
	if (c->batched)
		unbatch(c);
	/* Unsent bytes are bounded by the window we granted; drop the sent ones before they
	 * outnumber them, so the buffer stays within twice the window. */
	if (c->toff > 0 && c->toff * 2 >= c->tbuf.len) {
		memmove(c->tbuf.data, c->tbuf.data + c->toff, c->tbuf.len - c->toff);
		c->tbuf.len -= c->toff;
		c->toff = 0;
	}
	sbuf_put(&c->tbuf, data, len);
}

/* Sends c's spans of this pass in one sendmsg, grants window for what the socket took and
 * buffers the rest (tbuf is empty while c has spans). */
static void write_batched(struct channel *c)
{
	struct relay_batch *b = batch_of(c);
	struct iovec iov[RELAY_BATCH_SPANS];
	int n = 0;

	for (int i = 0; i < b->n; i++) {
		if (b->span[i].c == c) {
			iov[n++] = (struct iovec){ (void *)b->span[i].p, b->span[i].len };
			b->span[i].c = NULL;
		}
	}
	c->batched = false;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;
	do {
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	} while (w == -1 && errno == EINTR);
	if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		size_t all = 0;
		for (int i = 0; i < n; i++)
			all += iov[i].iov_len;
		target_write_failed(c, all);
		return;
	}
	size_t sent = w > 0 ? (size_t)w : 0;
	if (sent > 0 && c->sch)
		ssh_channel_consumed(chan_ssh(c), c->sch, sent);
	for (int i = 0; i < n; i++) {
		if (sent >= iov[i].iov_len) {
			sent -= iov[i].iov_len;
			continue;
		}
		sbuf_put(&c->tbuf, (uint8_t *)iov[i].iov_base + sent, iov[i].iov_len - sent);
		sent = 0;
	}
}

void relay_flush(struct channel *c)
{
	if (c->fd == -1 || c->closing)
		return; /* channel_release_target() already dropped its spans */
	if (c->batched)
		write_batched(c);
	else
		flush_target(c);
	relay_update(c);
}

/* Bytes a proxy delivered together with its reply go to the client before anything else
 * read from the target. Returns true while some are left. */
static bool send_early(struct channel *c)
{
	if (c->early.len == 0)
		return false;
	size_t n = ssh_channel_write(chan_ssh(c), c->sch, c->early.data, c->early.len);
	sbuf_consume(&c->early, n);
	if (c->early.len > 0)
		return true;
	sbuf_free(&c->early);
	return false;
}

void relay_update(struct channel *c)
{
	if (c == NULL || c->fd == -1 || c->closing)
		return;
	if (c->dirty)
		return; /* relay_flush() at the end of this pass decides */
	struct ssh *ssh = chan_ssh(c);
	bool pending = relay_pending(c);

	if (c->sch == NULL) {
		/* The client closed: only hand over what is left, then go. */
		if (pending)
			loop_io_set(c->sess->srv->loop, &c->io, LOOP_WRITE);
		else
			channel_free(c);
		return;
	}
	bool early = send_early(c);

	if (c->client_eof && !pending && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
	if (c->target_eof && c->shut_wr) {
		channel_finish(c);
		return;
	}
	unsigned want = pending ? LOOP_WRITE : 0;
	if (!c->target_eof) {
		if (!early && ssh_channel_send_space(ssh, c->sch) > 0) {
			want |= LOOP_READ;
		} else if (ssh_out_full(ssh)) {
			c->sess->out_blocked = true;
		}
	}
	if (c->parked) {
		if (!(want & (LOOP_READ | LOOP_WRITE)))
			return;
		c->parked = false;
		loop_io_start(c->sess->srv->loop, &c->io, c->fd, want, relay_io_cb, c);
		return;
	}
	loop_io_set(c->sess->srv->loop, &c->io, want);
}

/* True when the target may be read now: the client's window and the session output have
 * room, and no early bytes wait ahead of new ones. */
static bool can_read(struct channel *c)
{
	return c->sch && !c->target_eof && c->early.len == 0 &&
	       ssh_channel_send_space(chan_ssh(c), c->sch) > 0;
}

static void relay_io_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct channel *c = io->ctx;
	struct session *s = c->sess;

	if (events & (LOOP_WRITE | LOOP_ERROR))
		flush_target(c);
	if ((events & (LOOP_READ | LOOP_ERROR)) && c->sch && !c->target_eof)
		read_target(c);
	if ((events & LOOP_ERROR) && !c->closing && !can_read(c) && !relay_pending(c)) {
		/* A reset or hang-up while the client's window is shut: the bytes the target
		 * sent before it are still readable, so don't act on the error yet (sshd reads
		 * them too). Stop polling until the window opens, or epoll would report the
		 * error again at once; reading then delivers the data, then the error as EOF. */
		loop_io_stop(l, io);
		c->parked = true;
	}
	relay_update(c);
	session_flush(s);
}

void relay_start(struct channel *c)
{
	/* Starts parked: relay_update() registers it with the events it wants, in one call. */
	c->parked = true;
	relay_update(c);
}
