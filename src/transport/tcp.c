/* Plain TCP transport: the socket as it is, with readiness from the loop. */
#include "tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../loop.h"
#include "../net.h"
#include "../xmalloc.h"

struct tcp_transport {
	struct transport base; /* first: a struct transport * is a struct tcp_transport * */
	struct loop *loop;
	int fd;
	struct loop_io io;
};

static struct tcp_transport *tcp_of(struct transport *t)
{
	return (struct tcp_transport *)t;
}

static ssize_t tcp_read(struct transport *t, void *buf, size_t len)
{
	struct tcp_transport *tt = tcp_of(t);
	ssize_t n = read(tt->fd, buf, len);

	/* During the handshake, acknowledge at once: clients without TCP_NODELAY otherwise wait
	 * a delayed-ACK period (40 ms) between two small writes. */
	if (n > 0 && t->quickack)
		setsockopt(tt->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
	return n;
}

static ssize_t tcp_write(struct transport *t, const void *buf, size_t len)
{
	return send(tcp_of(t)->fd, buf, len, MSG_NOSIGNAL);
}

static void tcp_shut(struct transport *t)
{
	(void)shutdown(tcp_of(t)->fd, SHUT_WR); /* fails only when the peer is gone already */
}

static size_t tcp_buffered(const struct transport *t)
{
	(void)t;
	return 0; /* the kernel holds what is unread: readiness says so */
}

static int tcp_want(struct transport *t, unsigned events)
{
	struct tcp_transport *tt = tcp_of(t);

	return loop_io_set(tt->loop, &tt->io, events & (LOOP_READ | LOOP_WRITE));
}

static void tcp_free_cb(struct loop *l, void *ctx)
{
	(void)l;
	free(ctx);
}

static void tcp_close(struct transport *t)
{
	struct tcp_transport *tt = tcp_of(t);

	loop_io_close(tt->loop, &tt->io, tt->fd);
	tt->fd = -1;
	loop_defer(tt->loop, tcp_free_cb, tt);
}

static const struct transport_ops tcp_ops = {
	.name = "tcp",
	.read = tcp_read,
	.write = tcp_write,
	.buffered = tcp_buffered,
	.shut = tcp_shut,
	.want = tcp_want,
	.close = tcp_close,
};

/* LOOP_* and TRANSPORT_* share their values, so events pass through unchanged. */
_Static_assert((int)LOOP_READ == (int)TRANSPORT_READ && (int)LOOP_WRITE == (int)TRANSPORT_WRITE &&
		       (int)LOOP_ERROR == (int)TRANSPORT_ERROR,
	       "loop and transport events differ");

static void tcp_io_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct tcp_transport *tt = io->ctx;

	(void)l;
	tt->base.cb(tt->base.ctx, events);
}

struct transport *transport_tcp_new(struct loop *l, int fd, transport_cb *cb, void *ctx)
{
	struct tcp_transport *tt = xcalloc(1, sizeof(*tt));

	tt->base.ops = &tcp_ops;
	tt->base.cb = cb;
	tt->base.ctx = ctx;
	tt->loop = l;
	tt->fd = fd;
	net_set_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){1}, sizeof(int));
	if (loop_io_start(l, &tt->io, fd, LOOP_READ, tcp_io_cb, tt) != 0) {
		close(fd);
		free(tt);
		return NULL;
	}
	return &tt->base;
}
