/* The outbound connection of a channel: direct, or through the configured SOCKS5 / SOCKS5h /
 * HTTP CONNECT proxy. Everything is non-blocking and bounded by one timeout. */
#ifndef ALKNET_PROXY_OUTBOUND_H
#define ALKNET_PROXY_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dial_filter;
struct loop;
struct resolver;
struct proxy_url;
struct outbound;

/* Operator problems with the proxy, each warned about at most once per 10 s. */
enum outbound_warn {
	OB_WARN_NONE = -1,
	OB_WARN_UNREACHABLE = 0,
	OB_WARN_AUTH = 1,
	OB_WARN_PROTOCOL = 2,
	OB_WARN_KINDS = 3,
};

/* What the outbound connections of one loop share: the loop, its resolver and the warnings'
 * rate limit. Per loop (struct worker owns one); zero-initialise warn. */
struct outbound_env {
	struct loop *loop;
	struct resolver *resolver;
	struct outbound_warn_state {
		bool used;
		uint64_t last_ms;
		unsigned held;
	} warn[OB_WARN_KINDS];
};

struct outbound_result {
	int fd;	     /* connected, non-blocking, TCP_NODELAY; -1 on failure; owned by the callee */
	bool denied; /* the filter refused every address: refuse as administratively prohibited */
	const char *error;    /* NULL on success, else the text for CHANNEL_OPEN_FAILURE
			       * ("connection refused", "proxy: authentication failed", ...) */
	const uint8_t *early; /* tunnel bytes that arrived with the proxy's reply (may be 0) */
	size_t early_len;
};

/* Called once on the loop, never from inside outbound_start. The result's memory is valid only
 * during the call. The outbound is gone afterwards. */
typedef void outbound_cb(void *ctx, const struct outbound_result *r);

/* proxy NULL: direct. timeout_ms bounds everything (resolve, connect, proxy handshake). */
struct outbound *outbound_start(struct outbound_env *env, const struct proxy_url *proxy,
				const char *host, uint16_t port, uint64_t timeout_ms,
				outbound_cb *cb, void *ctx);
/* The same, connecting only to the destination addresses filter allows (direct.h; NULL: all),
 * for direct connections and socks5:// (which resolves here); socks5h:// and http:// send the
 * name and never look at it. filter must outlive the outbound. */
struct outbound *outbound_start_filtered(struct outbound_env *env, const struct proxy_url *proxy,
					 const char *host, uint16_t port, uint64_t timeout_ms,
					 const struct dial_filter *filter, outbound_cb *cb,
					 void *ctx);
/* Aborts: closes sockets, the callback is never called. */
void outbound_cancel(struct outbound *o);

#endif
