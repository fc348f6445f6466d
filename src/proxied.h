/* Connections from a PROXY-protocol sender (--proxy-protocol) between the accept and their
 * header: the sender must be in --proxy-protocol-from, the connection counts against
 * --max-startups (limits_admit_pending) while it waits, and the header must come within
 * PROXIED_TIMEOUT_MS (or the login grace time, if shorter). Then the owner gets the transport
 * and the client's address from the header (or the socket's own, for LOCAL/UNKNOWN), and
 * admits it like any other connection. Drops are logged here, at INFO, a bounded number per
 * PROXIED_LOG_MS.
 *
 * Ownership: the owner (server.c) owns the set and calls proxied_close_all before freeing it;
 * each waiting connection's transport belongs to the set until ready() hands it over. */
#ifndef ALKNET_PROXIED_H
#define ALKNET_PROXIED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct limits;
struct proxied;
struct transport;
struct worker;

#define PROXIED_TIMEOUT_MS 5000
#define PROXIED_LOG_MS	   10000
#define PROXIED_LOG_BURST  20 /* drop lines per PROXIED_LOG_MS; the rest are counted */

struct proxied_hooks {
	/* The header is in: t (now the owner's) carries the client's stream; client is its
	 * address. The connection is no longer counted here (nor by limits_admit_pending). */
	void (*ready)(void *owner, struct transport *t, const struct sockaddr_storage *client);
	/* limits_admit_pending refused the connection (already closed): for the owner's
	 * "connection refused" line. */
	void (*refused)(void *owner, const struct sockaddr_storage *from, const char *reason);
};

struct proxied_set {
	struct worker *w;
	struct limits *lim;
	const struct proxied_hooks *hooks;
	void *owner;
	struct proxied *list;
	size_t n;
	uint64_t log_window_ms; /* start of the current log window */
	unsigned log_lines;	/* drop lines in it */
	unsigned log_held;	/* drops not logged since the last line */
};

void proxied_init(struct proxied_set *ps, struct worker *w, struct limits *lim,
		  const struct proxied_hooks *hooks, void *owner);
/* A connection accepted from `from` on a listener that expects a header: takes ownership of
 * fd (closed when it is dropped or refused). cfg is the current configuration. */
void proxied_accept(struct proxied_set *ps, const struct config *cfg, int fd,
		    const struct sockaddr_storage *from);
/* Closes every connection still waiting for its header (shutdown). */
void proxied_close_all(struct proxied_set *ps);

#endif
