/* direct-tcpip channels: policy, the outbound connect, and the channel's life until both
 * CLOSE messages have passed. Nothing here logs a destination. */
#include "channel.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel_direct_tcpip.h"
#include "log.h"
#include "policy.h"
#include "proxy/outbound.h"
#include "relay.h"
#include "server.h"
#include "session.h"
#include "ssh/ssh.h"
#include "xmalloc.h"

#define CHANNEL_LINGER_MS 30000

static void channel_link(struct session *s, struct channel *c)
{
	c->sess = s;
	c->next = s->channels;
	if (s->channels)
		s->channels->prev = c;
	s->channels = c;
}

static void channel_unlink(struct channel *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->sess->channels = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Releases the target side: connect in progress, socket, buffer. */
static void channel_release_target(struct channel *c)
{
	if (c->dial) {
		outbound_cancel(c->dial);
		c->dial = NULL;
	}
	if (c->fd != -1) {
		loop_io_close(c->sess->srv->loop, &c->io, c->fd);
		c->fd = -1;
	}
	sbuf_free(&c->tbuf);
	sbuf_free(&c->early);
	c->toff = 0;
	c->batched = false;
}

static void channel_free_cb(struct loop *l, void *ctx)
{
	(void)l;
	free(ctx);
}

/* The struct itself is freed after the current loop step: an event for its socket may still
 * be pending in this batch. */
void channel_free(struct channel *c)
{
	struct loop *l = c->sess->srv->loop;

	channel_release_target(c);
	loop_timer_stop(l, &c->linger);
	if (c->sch)
		ssh_channel_set_user(c->sch, NULL);
	channel_unlink(c);
	loop_defer(l, channel_free_cb, c);
}

static void dial_done(void *ctx, const struct outbound_result *r)
{
	struct channel *c = ctx;
	struct session *s = c->sess;

	c->dial = NULL;
	if (r->error) {
		log_debug("session %llu channel %u: connect failed", (unsigned long long)s->id,
			  ssh_channel_id(c->sch));
		ssh_channel_refuse(s->ssh, c->sch, SSH_OPEN_CONNECT_FAILED, r->error);
		c->sch = NULL;
		channel_free(c);
		session_flush(s);
		return;
	}
	c->fd = r->fd;
	sbuf_put(&c->early, r->early, r->early_len);
	ssh_channel_confirm(s->ssh, c->sch);
	relay_start(c);
	session_flush(s);
}

static void refuse(struct session *s, const struct ssh_event *ev, uint32_t reason,
		   const char *text)
{
	log_debug("session %llu channel %u: refused (%u)", (unsigned long long)s->id,
		  ssh_channel_id(ev->ch), reason);
	ssh_channel_refuse(s->ssh, ev->ch, reason, text);
}

/* --connect-timeout for direct connections, --proxy-timeout through a proxy. */
static uint64_t outbound_timeout_ms(const struct server *srv)
{
	unsigned s = srv->proxy ? srv->cfg->proxy_timeout_s : srv->cfg->connect_timeout_s;

	return (uint64_t)s * 1000;
}

void channel_open(struct session *s, const struct ssh_event *ev)
{
	struct server *srv = s->srv;

	if (strcmp(ev->chan_type, "direct-tcpip") != 0) {
		refuse(s, ev, SSH_OPEN_UNKNOWN_CHANNEL_TYPE, "only direct-tcpip channels are supported");
		return;
	}
	if (srv->draining) {
		refuse(s, ev, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, "server shutting down");
		return;
	}
	struct tcpip_open req;
	if (tcpip_parse_open(ev->type_data, ev->type_len, &req) != 0) {
		refuse(s, ev, SSH_OPEN_CONNECT_FAILED, "malformed request");
		return;
	}
	enum policy_verdict v = policy_check(req.host, req.host_len, req.port);
	if (v != POLICY_ALLOW) {
		refuse(s, ev,
		       v == POLICY_RESERVED ? SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
					    : SSH_OPEN_CONNECT_FAILED,
		       policy_reason_text(v));
		return;
	}
	struct channel *c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	loop_timer_init(&c->linger);
	c->sch = ev->ch;
	channel_link(s, c);
	ssh_channel_set_user(ev->ch, c);
	c->dial = outbound_start(srv->loop, srv->resolver, srv->proxy, req.host, (uint16_t)req.port,
				 outbound_timeout_ms(srv), dial_done, c);
}

void channel_on_eof(struct channel *c)
{
	if (c == NULL)
		return;
	c->client_eof = true;
	relay_update(c);
}

void channel_finish(struct channel *c)
{
	struct session *s = c->sess;

	if (c->closing)
		return;
	c->closing = true;
	channel_release_target(c);
	if (c->sch)
		ssh_channel_close(s->ssh, c->sch);
}

static void linger_expired(struct loop *l, void *ctx)
{
	(void)l;
	channel_free(ctx);
}

void channel_on_close(struct channel *c)
{
	if (c == NULL)
		return;
	struct session *s = c->sess;
	c->sch = NULL; /* the engine frees it */
	if (c->fd != -1 && !c->closing && relay_pending(c)) {
		/* Like OpenSSH: what the client sent before its CLOSE still reaches the target. */
		loop_timer_start(s->srv->loop, &c->linger, CHANNEL_LINGER_MS, linger_expired, c);
		relay_update(c);
		return;
	}
	channel_free(c);
	if (s->srv->draining && s->channels == NULL)
		session_shutdown(s);
}
