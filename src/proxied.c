/* Connections waiting for their PROXY header (proxied.h). */
#include "proxied.h"

#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "addrmatch.h"
#include "config.h"
#include "limits.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "transport/proxy_header.h"
#include "worker.h"
#include "xmalloc.h"

_Static_assert(PROXY_HEADER_V1 == 1 && PROXY_HEADER_V2 == 2 && PROXY_HEADER_ANY == 3,
	       "config.h's proxy_protocol values are proxy_header.h's");

struct proxied {
	struct proxied *prev, *next;
	struct proxied_set *ps;
	struct transport *tr;
	struct sockaddr_storage from; /* the sender (the balancer) */
};

void proxied_init(struct proxied_set *ps, struct worker *w, struct limits *lim,
		  const struct proxied_hooks *hooks, void *owner)
{
	*ps = (struct proxied_set){.w = w, .lim = lim, .hooks = hooks, .owner = owner};
}

/* "connection dropped remote_addr=SENDER reason=..." at most PROXIED_LOG_BURST times per
 * PROXIED_LOG_MS: a flood from a source that may not send headers, or a broken balancer,
 * makes a few lines, and the next line says how many were left out. */
static void log_drop(struct proxied_set *ps, const struct sockaddr_storage *from, const char *why)
{
	uint64_t now = loop_now_ms(ps->w->loop);
	char addr[64];

	if (ps->log_window_ms == 0 || now - ps->log_window_ms >= PROXIED_LOG_MS) {
		ps->log_window_ms = now;
		ps->log_lines = 0;
	}
	if (ps->log_lines >= PROXIED_LOG_BURST) {
		ps->log_held++;
		return;
	}
	ps->log_lines++;
	net_addr_str(from, addr, sizeof(addr));
	if (ps->log_held > 0)
		log_info("connection dropped remote_addr=%s reason=\"%s\" suppressed=%u", addr, why,
			 ps->log_held);
	else
		log_info("connection dropped remote_addr=%s reason=\"%s\"", addr, why);
	ps->log_held = 0;
}

/* p leaves the set: no longer waiting, counted or holding a descriptor of the set's. */
static void proxied_remove(struct proxied *p)
{
	struct proxied_set *ps = p->ps;

	if (p->prev)
		p->prev->next = p->next;
	else
		ps->list = p->next;
	if (p->next)
		p->next->prev = p->prev;
	ps->n--;
	ps->w->fds_used--;
	limits_pending_done(ps->lim);
}

static void header_done(void *ctx, struct transport *t, const struct proxy_header *hdr)
{
	struct proxied *p = ctx;
	struct proxied_set *ps = p->ps;

	proxied_remove(p);
	if (hdr->error) {
		log_drop(ps, &p->from, hdr->error);
		transport_close(t);
	} else {
		log_debug("proxy header v%u%s", hdr->version, hdr->local ? " local" : "");
		ps->hooks->ready(ps->owner, t, hdr->local ? &p->from : &hdr->src);
	}
	free(p);
}

void proxied_accept(struct proxied_set *ps, const struct config *cfg, int fd,
		    const struct sockaddr_storage *from)
{
	uint64_t timeout = (uint64_t)cfg->login_grace_time_s * 1000;
	const char *refused;

	if (!addrmatch_match(cfg->proxy_protocol_from, from)) {
		log_drop(ps, from, "not in proxy-protocol-from");
		close(fd);
		return;
	}
	if ((refused = limits_admit_pending(ps->lim, ps->w)) != NULL) {
		close(fd);
		ps->hooks->refused(ps->owner, from, refused);
		return;
	}
	struct proxied *p = xcalloc(1, sizeof(*p));
	p->ps = ps;
	p->from = *from;
	if (timeout > PROXIED_TIMEOUT_MS)
		timeout = PROXIED_TIMEOUT_MS;
	p->tr = transport_proxy_new(ps->w->loop, fd, cfg->proxy_protocol, timeout, header_done, p);
	if (p->tr == NULL) {
		limits_pending_done(ps->lim);
		free(p);
		return;
	}
	p->next = ps->list;
	if (ps->list)
		ps->list->prev = p;
	ps->list = p;
	ps->n++;
	ps->w->fds_used++;
}

void proxied_close_all(struct proxied_set *ps)
{
	while (ps->list) {
		struct proxied *p = ps->list;
		proxied_remove(p);
		transport_close(p->tr);
		free(p);
	}
}
