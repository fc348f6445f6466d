/* Outbound TCP to host:port without a proxy: resolve (non-blocking), then connect to each address
 * in turn (non-blocking) until one succeeds, all within one overall timeout. */
#ifndef ALKNET_PROXY_DIRECT_H
#define ALKNET_PROXY_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct sockaddr;
struct resolver;
struct direct_conn;

enum dial_err {
	DIAL_OK = 0,
	DIAL_REFUSED = 1,     /* "connection refused" */
	DIAL_TIMEOUT = 2,     /* "timed out" */
	DIAL_UNREACHABLE = 3, /* "network unreachable" / "host unreachable" */
	DIAL_RESOLVE = 4,     /* "name not resolved" */
	DIAL_OTHER = 5,	      /* "connect failed" */
	DIAL_DENIED = 6,      /* every address refused by the filter: nothing was connected */
};

/* Which resolved addresses may be connected to (the forwarding policy). allow is called once
 * per address, on the loop, before any connect; the addresses it refuses are skipped. The
 * struct must outlive the dial. */
struct dial_filter {
	bool (*allow)(void *ctx, const struct sockaddr *sa);
	void *ctx;
};

/* fd >= 0 (non-blocking, TCP_NODELAY set, now owned by the callee) when err == DIAL_OK, else -1.
 * Called on the loop, never synchronously from direct_connect. After the callback the
 * direct_conn is gone: don't cancel it. */
typedef void dial_cb(void *ctx, int fd, enum dial_err err);

struct direct_conn *direct_connect(struct loop *l, struct resolver *r, const char *host,
				   uint16_t port, uint64_t timeout_ms, dial_cb *cb, void *ctx);
/* The same, connecting only to the addresses filter allows (NULL: all). */
struct direct_conn *direct_connect_filtered(struct loop *l, struct resolver *r, const char *host,
					    uint16_t port, uint64_t timeout_ms,
					    const struct dial_filter *filter, dial_cb *cb,
					    void *ctx);
/* Aborts a connect in progress: closes its sockets, the callback is never called. */
void direct_cancel(struct direct_conn *c);
/* Short text for an error, suitable for SSH_MSG_CHANNEL_OPEN_FAILURE (never logged). */
const char *dial_strerror(enum dial_err err);

#endif
