/* Outbound connections for channels. Direct for now: proxies plug in here. */
#include "outbound.h"

#include <stdlib.h>

#include "../xmalloc.h"
#include "direct.h"

struct outbound {
	struct direct_conn *dial;
	outbound_cb *cb;
	void *ctx;
};

static void direct_done(void *ctx, int fd, enum dial_err err)
{
	struct outbound *o = ctx;
	struct outbound_result r = { .fd = fd, .error = err == DIAL_OK ? NULL : dial_strerror(err) };
	outbound_cb *cb = o->cb;
	void *cb_ctx = o->ctx;

	free(o);
	cb(cb_ctx, &r);
}

struct outbound *outbound_start(struct loop *l, struct resolver *r, const struct proxy_url *proxy,
				const char *host, uint16_t port, uint64_t timeout_ms,
				outbound_cb *cb, void *ctx)
{
	struct outbound *o = xcalloc(1, sizeof(*o));

	(void)proxy;
	o->cb = cb;
	o->ctx = ctx;
	o->dial = direct_connect(l, r, host, port, timeout_ms, direct_done, o);
	return o;
}

void outbound_cancel(struct outbound *o)
{
	if (o == NULL)
		return;
	direct_cancel(o->dial);
	free(o);
}
