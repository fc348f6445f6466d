/* The byte stream of one client connection, below the SSH engine: plain TCP and the PROXY
 * protocol header over it (proxy_header.h) now, TLS later. The session talks only to this
 * interface (redis's ConnectionType is the model): it reads and writes bytes, says which
 * readiness it wants, and is called back when that readiness comes.
 *
 * Ownership: the transport owns its socket and its loop registration; the session owns the
 * transport and ends it with transport_close(). A transport that holds bytes it has already
 * taken off the socket (TLS records, a header parser's read-ahead) reports them through
 * buffered() and calls back with TRANSPORT_READ by itself while the owner wants to read, so
 * the owner never waits on the socket for bytes that are already inside the transport. */
#ifndef ALKNET_TRANSPORT_H
#define ALKNET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct transport;

/* Readiness, as in loop.h: TRANSPORT_ERROR comes whatever was asked for. */
enum transport_events {
	TRANSPORT_READ = 1,
	TRANSPORT_WRITE = 2,
	TRANSPORT_ERROR = 4,
};

/* Readiness callback; the owner may call any transport function from it, transport_close()
 * included (the transport is then freed after the callback returns). */
typedef void transport_cb(void *ctx, unsigned events);

struct transport_ops {
	const char *name; /* "tcp": the log's transport= field */
	/* Like read(2)/write(2): > 0 bytes, 0 end of stream (read only), -1 with errno set
	 * (EAGAIN: wait for readiness). */
	ssize_t (*read)(struct transport *t, void *buf, size_t len);
	ssize_t (*write)(struct transport *t, const void *buf, size_t len);
	/* Bytes already taken off the socket and not yet read by the owner. */
	size_t (*buffered)(const struct transport *t);
	/* Bytes write() accepted that are not yet handed to the socket (TLS records waiting for
	 * it to drain); NULL when there never are any. An owner that closes after its last write
	 * waits for 0, asking for write readiness meanwhile. */
	size_t (*unsent)(const struct transport *t);
	/* Ends the stream toward the peer now (shutdown(2) SHUT_WR: a FIN). Nothing written
	 * afterwards goes out, and a layered transport sends no goodbye of its own either (TLS:
	 * no close_notify, its held records dropped), so the peer sees the stream cut: what
	 * nginx's quiet shutdown after a timeout looks like. NULL: nothing to end. */
	void (*shut)(struct transport *t);
	/* The readiness the owner wants from now on (TRANSPORT_READ | TRANSPORT_WRITE). Returns
	 * 0 or -errno. */
	int (*want)(struct transport *t, unsigned events);
	/* Closes the socket and frees the transport (after the current loop step). */
	void (*close)(struct transport *t);
};

/* The part every transport shares; implementations embed it first. */
struct transport {
	const struct transport_ops *ops;
	transport_cb *cb;
	void *ctx;
	bool quickack; /* owner's hint: acknowledge at once (handshake round trips) */
	/* The transport's own rules bound the time before the first byte reaches the owner
	 * (--stealth: nginx's timeouts), so the owner starts its login clock then. */
	bool late_start;
};

static inline ssize_t transport_read(struct transport *t, void *buf, size_t len)
{
	return t->ops->read(t, buf, len);
}

static inline ssize_t transport_write(struct transport *t, const void *buf, size_t len)
{
	return t->ops->write(t, buf, len);
}

static inline size_t transport_buffered(const struct transport *t)
{
	return t->ops->buffered(t);
}

static inline size_t transport_unsent(const struct transport *t)
{
	return t->ops->unsent ? t->ops->unsent(t) : 0;
}

static inline void transport_shut(struct transport *t)
{
	if (t->ops->shut != NULL)
		t->ops->shut(t);
}

static inline int transport_want(struct transport *t, unsigned events)
{
	return t->ops->want(t, events);
}

static inline void transport_close(struct transport *t)
{
	t->ops->close(t);
}

static inline const char *transport_name(const struct transport *t)
{
	return t->ops->name;
}

/* Hands the readiness callback to a new owner (the accept path gives a transport whose PROXY
 * header has arrived to its session). The new owner then says what it wants. */
static inline void transport_set_owner(struct transport *t, transport_cb *cb, void *ctx)
{
	t->cb = cb;
	t->ctx = ctx;
}

#endif
