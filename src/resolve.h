/* Non-blocking name resolution: a small pool of threads runs getaddrinfo() and hands results
 * back to the loop through an eventfd. Numeric hosts are answered without a thread. */
#ifndef ALKNET_RESOLVE_H
#define ALKNET_RESOLVE_H

#include <netdb.h>
#include <stdint.h>

struct loop;
struct resolver;
struct resolve_req;

/* res: list to try in order (IPv6 and IPv4 interleaved), owned by the callback (freeaddrinfo).
 * err: 0, or an EAI_* code (res is NULL then). Called on the loop thread, never synchronously
 * from resolve_start. */
typedef void resolve_cb(void *ctx, int err, struct addrinfo *res);

struct resolver *resolver_new(struct loop *l, int threads);
/* Stops the threads (waits for running lookups) and drops pending requests without callbacks. */
void resolver_free(struct resolver *r);
/* Starts a lookup of host (SOCK_STREAM, AF_UNSPEC) with port filled in. Returns a handle. */
struct resolve_req *resolve_start(struct resolver *r, const char *host, uint16_t port,
				  resolve_cb *cb, void *ctx);
/* The callback will not be called after this; frees the request. */
void resolve_cancel(struct resolve_req *req);

#endif
