/* direct-tcpip channels (RFC 4254 §7.2): the request is parsed and checked by the policy, the
 * outbound connect (direct or through the proxy) runs, and the channel is confirmed only once
 * the target is connected; then a relay moves the bytes until both directions are done.
 * The type's state owns the connect in progress, the relay (and with it the target socket)
 * and the linger timer. Nothing here logs a destination. */
#include "channel_direct_tcpip.h"

#include <errno.h>
#include <string.h>

#include "channel.h"
#include "channel_control.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "policy_rules.h"
#include "proxy/direct.h"
#include "proxy/outbound.h"
#include "proxy/proxy_url.h"
#include "relay.h"
#include "settings.h"
#include "ssh/buf.h"
#include "ssh/ssh.h"
#include "worker.h"
#include "xmalloc.h"

/* After the client's CLOSE: how long buffered client data may take to reach the target. */
#define TCPIP_LINGER_MS 30000

struct tcpip {
	struct outbound *dial;		/* while connecting */
	struct dial_filter filter;	/* the policy's address check, for the dial */
	char host[POLICY_MAX_HOST + 1]; /* the destination, for that check (never logged) */
	uint16_t port;
	struct relay relay;
	struct loop_timer linger;
	/* --channel-idle-timeout: armed only when the option is on, and re-armed lazily when it
	 * fires, never per packet; the data paths only stamp last_ms. */
	struct loop_timer idle;
	uint64_t last_ms; /* when data last moved either way */
};

static struct tcpip *tcpip_of(const struct channel *c)
{
	return c->state;
}

static void tcpip_active(struct channel *c)
{
	tcpip_of(c)->last_ms = loop_now_ms(channel_worker(c)->loop);
}

int tcpip_parse_open(const uint8_t *p, size_t n, struct tcpip_open *out)
{
	struct sreader r;
	size_t hlen, olen;

	sreader_init(&r, p, n);
	const uint8_t *host = sreader_string(&r, &hlen);
	uint32_t port = sreader_u32(&r);
	(void)sreader_string(&r, &olen);
	uint32_t orig_port = sreader_u32(&r);
	if (r.err || sreader_left(&r) != 0)
		return -EBADMSG;
	size_t keep = hlen > POLICY_MAX_HOST ? POLICY_MAX_HOST : hlen;
	memcpy(out->host, host, keep);
	out->host[keep] = '\0';
	out->host_len = hlen;
	out->port = port;
	out->orig_port = orig_port;
	return 0;
}

/* The relay's client side is the engine channel (relay.h). While lingering after the client's
 * CLOSE there is no engine channel: only consumed() and done() are called then. */
static size_t tcpip_space(void *ctx)
{
	struct channel *c = ctx;

	return ssh_channel_send_space(channel_ssh(c), c->sch);
}

static size_t tcpip_reserve(void *ctx, struct iovec *iov, size_t max)
{
	struct channel *c = ctx;

	return ssh_channel_data_reserve(channel_ssh(c), c->sch, iov, max);
}

static void tcpip_commit(void *ctx, size_t n)
{
	struct channel *c = ctx;

	ssh_channel_data_commit(channel_ssh(c), c->sch, n);
	if (n > 0) {
		tcpip_active(c);
		channel_output(c);
	}
}

static size_t tcpip_write(void *ctx, const uint8_t *p, size_t n)
{
	struct channel *c = ctx;

	channel_output(c);
	tcpip_active(c);
	return ssh_channel_write(channel_ssh(c), c->sch, p, n);
}

static void tcpip_eof(void *ctx)
{
	struct channel *c = ctx;

	ssh_channel_send_eof(channel_ssh(c), c->sch);
	channel_output(c);
}

/* May queue a WINDOW_ADJUST: the session must write it even if nothing else happens (the
 * client is waiting for it). */
static void tcpip_consumed(void *ctx, size_t n)
{
	struct channel *c = ctx;

	if (c->sch && n > 0) {
		ssh_channel_consumed(channel_ssh(c), c->sch, n);
		channel_output(c);
	}
}

static void tcpip_done(void *ctx)
{
	struct channel *c = ctx;

	if (c->sch)
		channel_close(c);
	else
		channel_release(c); /* lingering: the client's CLOSE came already */
}

static const struct relay_ops tcpip_relay_ops = {
	.space = tcpip_space,
	.reserve = tcpip_reserve,
	.commit = tcpip_commit,
	.write = tcpip_write,
	.eof = tcpip_eof,
	.consumed = tcpip_consumed,
	.done = tcpip_done,
};

/* No data either way for the whole timeout: the tunnel is closed (CLOSE; the session
 * stays). Otherwise the timer is set again for the rest of the timeout. */
static void idle_due(struct loop *l, void *ctx)
{
	struct channel *c = ctx;
	struct tcpip *t = tcpip_of(c);
	unsigned timeout_s = channel_settings(c)->cfg->channel_idle_timeout_s;
	uint64_t timeout = (uint64_t)timeout_s * 1000, quiet = loop_now_ms(l) - t->last_ms;

	if (quiet < timeout) {
		loop_timer_start(l, &t->idle, timeout - quiet, idle_due, c);
		return;
	}
	log_info("session %llu channel %u: closed idle tunnel idle=%us",
		 (unsigned long long)channel_session_id(c), ssh_channel_id(c->sch), timeout_s);
	channel_close(c);
}

static void dial_done(void *ctx, const struct outbound_result *r)
{
	struct channel *c = ctx;
	struct tcpip *t = tcpip_of(c);

	t->dial = NULL;
	c->set->dialing--;
	if (r->denied) {
		c->set->policy_refused++;
		channel_refuse(c, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, r->error);
		return;
	}
	if (r->error) {
		log_debug("session %llu channel %u: connect failed",
			  (unsigned long long)channel_session_id(c), ssh_channel_id(c->sch));
		channel_refuse(c, SSH_OPEN_CONNECT_FAILED, r->error);
		return;
	}
	channel_confirm(c);
	relay_start(&t->relay, r->fd, r->early, r->early_len);
	unsigned idle_s = channel_settings(c)->cfg->channel_idle_timeout_s;
	if (idle_s > 0) {
		tcpip_active(c);
		loop_timer_start(channel_worker(c)->loop, &t->idle, (uint64_t)idle_s * 1000,
				 idle_due, c);
	}
}

/* --connect-timeout for direct connections, --proxy-timeout through a proxy. */
static uint64_t outbound_timeout_ms(const struct settings *set)
{
	unsigned s = set->proxy ? set->cfg->proxy_timeout_s : set->cfg->connect_timeout_s;

	return (uint64_t)s * 1000;
}

/* The address check of the policy, for each resolved address before any connect. */
static bool tcpip_addr_allowed(void *ctx, const struct sockaddr *sa)
{
	struct channel *c = ctx;
	struct tcpip *t = tcpip_of(c);

	return policy_rules_addr(channel_settings(c)->policy, c->set->subject, t->host, t->port,
				 sa);
}

/* What the login grants (a certificate's permit-port-forwarding, the authorized_keys line's
 * forwarding and permitopen) and the policy's name check, before any lookup. Through a proxy
 * that resolves names itself only name rules apply. Returns NULL or the text of an
 * ADMINISTRATIVELY_PROHIBITED refusal. */
const char *tcpip_permission(const struct channel *c, const char *host, uint32_t port,
			     bool names_only)
{
	const struct settings *set = channel_settings(c);
	const struct policy_subject *who = c->set->subject;
	const struct policy_permits *pm = who ? who->permits : NULL;

	if (c->set->no_port_forwarding)
		return "port forwarding not permitted";
	if (pm && !pm->forwarding)
		return "port forwarding not allowed for this key";
	if (!policy_permits_allow(pm, host, port))
		return "destination not allowed for this key";
	if (policy_rules_name(set->policy, who, host, (uint16_t)port, names_only) ==
	    POLICY_RULES_DENY)
		return "destination not allowed";
	return NULL;
}

static const char *tcpip_refusal(const struct channel *c, const struct tcpip_open *req)
{
	const struct settings *set = channel_settings(c);

	return tcpip_permission(c, req->host, req->port,
				set->proxy && set->proxy->scheme != PROXY_SOCKS5);
}

static void tcpip_open(struct channel *c, const uint8_t *data, size_t len)
{
	const struct settings *set = channel_settings(c);
	struct worker *w = channel_worker(c);
	struct tcpip_open req;

	if (c->set->no_port_forwarding) {
		channel_refuse(c, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED,
			       "port forwarding not permitted");
		return;
	}
	if (tcpip_parse_open(data, len, &req) != 0) {
		channel_refuse(c, SSH_OPEN_CONNECT_FAILED, "malformed request");
		return;
	}
	enum policy_verdict v = policy_check(req.host, req.host_len, req.port);
	if (v != POLICY_ALLOW) { /* POLICY_CONTROL went to chan_control (tcpip_pick) */
		channel_refuse(c,
			       v == POLICY_INVALID ? SSH_OPEN_CONNECT_FAILED
						   : SSH_OPEN_ADMINISTRATIVELY_PROHIBITED,
			       policy_reason_text(v));
		return;
	}
	const char *refused = tcpip_refusal(c, &req);
	if (refused != NULL) {
		c->set->policy_refused++;
		channel_refuse(c, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, refused);
		return;
	}
	if (c->set->dialing >= set->cfg->max_pending_connects) {
		channel_refuse(c, SSH_OPEN_RESOURCE_SHORTAGE, "too many connects in progress");
		return;
	}
	struct tcpip *t = xcalloc(1, sizeof(*t));
	c->state = t;
	relay_init(&t->relay, w->loop, &tcpip_relay_ops, c);
	loop_timer_init(&t->linger);
	loop_timer_init(&t->idle);
	memcpy(t->host, req.host, sizeof(t->host));
	t->port = (uint16_t)req.port;
	t->filter = (struct dial_filter){.allow = tcpip_addr_allowed, .ctx = c};
	c->set->dialing++;
	t->dial = outbound_start_filtered(&w->outbound, set->proxy, req.host, t->port,
					  outbound_timeout_ms(set), set->policy ? &t->filter : NULL,
					  dial_done, c);
}

static void tcpip_data(struct channel *c, const uint8_t *p, size_t len)
{
	tcpip_active(c);
	relay_queue(&tcpip_of(c)->relay, &channel_worker(c)->batch, p, len);
}

static void tcpip_eof_in(struct channel *c)
{
	relay_client_eof(&tcpip_of(c)->relay);
}

static void tcpip_window(struct channel *c)
{
	relay_resume(&tcpip_of(c)->relay);
}

static void linger_expired(struct loop *l, void *ctx)
{
	(void)l;
	channel_release(ctx);
}

/* Like OpenSSH: what the client sent before its CLOSE still reaches the target, within
 * TCPIP_LINGER_MS. */
static bool tcpip_close(struct channel *c)
{
	struct tcpip *t = tcpip_of(c);

	if (t == NULL || t->relay.fd == -1 || !relay_pending(&t->relay))
		return true;
	loop_timer_stop(channel_worker(c)->loop, &t->idle); /* the linger bounds it now */
	loop_timer_start(channel_worker(c)->loop, &t->linger, TCPIP_LINGER_MS, linger_expired, c);
	relay_drain(&t->relay);
	return false;
}

static void tcpip_release(struct channel *c)
{
	struct tcpip *t = tcpip_of(c);

	if (t == NULL)
		return; /* refused before any state was made */
	if (t->dial != NULL) {
		outbound_cancel(t->dial);
		t->dial = NULL;
		c->set->dialing--;
	}
	relay_release(&t->relay);
	loop_timer_stop(channel_worker(c)->loop, &t->linger);
	loop_timer_stop(channel_worker(c)->loop, &t->idle);
}

/* alknet-control:0 is the control channel (channel_control.h); every other open, malformed
 * ones included, stays direct-tcpip, whose open refuses what it must. */
static const struct chan_type *tcpip_pick(const uint8_t *data, size_t len)
{
	struct tcpip_open req;

	if (tcpip_parse_open(data, len, &req) == 0 &&
	    policy_check(req.host, req.host_len, req.port) == POLICY_CONTROL)
		return &chan_control;
	return &chan_direct_tcpip;
}

const struct chan_type chan_direct_tcpip = {
	.name = "direct-tcpip",
	.uses_fd = true,
	.pick = tcpip_pick,
	.open = tcpip_open,
	.data = tcpip_data,
	.eof = tcpip_eof_in,
	.window = tcpip_window,
	.close = tcpip_close,
	.release = tcpip_release,
};
