/* Control channels (channel_control.h): frames in, hub calls out; the hub's queue out to the
 * client as far as its window allows. Client data is consumed (its window given back) as
 * soon as it is parsed: a whole frame is handed to the hub at once, and a partial one waits
 * in a buffer bounded by the frame cap, so the publisher is never held back (hub.h says why
 * the slow subscriber goes instead). */
#include "channel_control.h"

#include <stdio.h>

#include "channel.h"
#include "channel_direct_tcpip.h"
#include "config.h"
#include "control_frame.h"
#include "hub.h"
#include "log.h"
#include "settings.h"
#include "ssh/buf.h"
#include "ssh/ssh.h"
#include "worker.h"
#include "xmalloc.h"

/* An idle channel's frame buffer is freed once it grew past this. */
#define CONTROL_KEEP_BUF (64 * 1024)
#define CONTROL_FAILED	 ((size_t)-1)

struct control {
	struct hub_sub *sub;
	struct sbuf in;	 /* the start of a frame not yet whole */
	uint32_t id;	 /* the channel's number, for the closing line */
	const char *why; /* why it closed (a fixed text) */
};

static struct control *control_of(const struct channel *c)
{
	return c->state;
}

static unsigned long long sid(const struct channel *c)
{
	return (unsigned long long)channel_session_id(c);
}

static const char *addr_of(const struct channel *c)
{
	return c->set->addr ? c->set->addr : "-";
}

/* The hub's queue into the channel, as far as the client's window and the session's output
 * allow; the window op comes back when there is room again. */
static void control_send(struct channel *c)
{
	struct control *ct = control_of(c);
	const uint8_t *p;
	size_t n, sent = 0;

	while ((p = hub_peek(ct->sub, &n)) != NULL) {
		size_t w = ssh_channel_write(channel_ssh(c), c->sch, p, n);
		if (w == 0)
			break;
		hub_consume(ct->sub, w);
		sent += w;
	}
	if (sent > 0)
		channel_output(c);
}

static void control_ready(void *ctx)
{
	control_send(ctx);
}

/* Called at the end of another channel's publish: closing this one detaches only its own
 * endpoint (hub.h). */
static void control_overflow(void *ctx, size_t queued)
{
	struct channel *c = ctx;
	struct control *ct = control_of(c);

	log_info("control subscriber cut off session=%llu channel=%u remote_addr=%s "
		 "reason=\"slow consumer\" queued=%zu limit=%u",
		 sid(c), ct->id, addr_of(c), queued, channel_settings(c)->cfg->control_max_queue);
	ct->why = "slow consumer";
	channel_close(c);
}

static const struct hub_sub_ops control_hub_ops = {
	.ready = control_ready,
	.overflow = control_overflow,
};

/* A malformed frame: the reason on stderr (as far as the window allows), EOF, CLOSE. */
static void control_fail(struct channel *c, const char *reason)
{
	struct ssh *s = channel_ssh(c);
	char msg[128];
	int k = snprintf(msg, sizeof(msg), "alknet-control: %s\n", reason);

	ssh_channel_write_ext(s, c->sch, SSH_EXTENDED_DATA_STDERR, msg, (size_t)k);
	ssh_channel_send_eof(s, c->sch);
	control_of(c)->why = reason;
	channel_close(c);
}

/* One whole, valid frame. Returns NULL, or why the channel must close. */
static const char *control_act(struct channel *c, const struct control_frame *f,
			       const uint8_t *frame)
{
	struct control *ct = control_of(c);
	const struct json_envelope *e = &f->env;

	switch (f->kind) {
	case CONTROL_SUBSCRIBE:
		if (hub_subscribe(ct->sub, e->topic, e->topic_len) != 0)
			return "too many subscriptions";
		log_debug("control subscribe session=%llu channel=%u topics=%u", sid(c), ct->id,
			  hub_sub_topics(ct->sub));
		return NULL;
	case CONTROL_UNSUBSCRIBE:
		hub_unsubscribe(ct->sub, e->topic, e->topic_len);
		log_debug("control unsubscribe session=%llu channel=%u topics=%u", sid(c), ct->id,
			  hub_sub_topics(ct->sub));
		return NULL;
	default:
		hub_publish(ct->sub, e->type, e->type_len, frame, f->len);
		return NULL;
	}
}

/* The whole frames at the start of p[0..n): returns how many bytes they took (the rest is
 * a frame's start), or CONTROL_FAILED once the channel was closed for a bad one. */
static size_t take_frames(struct channel *c, const uint8_t *p, size_t n)
{
	size_t max = channel_settings(c)->cfg->control_max_frame, off = 0;
	struct control_frame f;

	for (;;) {
		int st = control_frame_parse(p + off, n - off, max, &f);
		if (st == CONTROL_FRAME_MORE)
			return off;
		const char *why = st == CONTROL_FRAME_OK ? control_act(c, &f, p + off)
							 : control_frame_reason(st, &f);
		if (why != NULL) {
			control_fail(c, why);
			return CONTROL_FAILED;
		}
		off += f.len;
	}
}

static void control_data(struct channel *c, const uint8_t *p, size_t len)
{
	struct control *ct = control_of(c);
	size_t used;

	ssh_channel_consumed(channel_ssh(c), c->sch, len);
	channel_output(c);
	if (ct->in.len == 0) { /* frames straight from the packet; only a tail is copied */
		used = take_frames(c, p, len);
		if (used != CONTROL_FAILED)
			sbuf_put(&ct->in, p + used, len - used);
		return;
	}
	sbuf_put(&ct->in, p, len);
	used = take_frames(c, ct->in.data, ct->in.len);
	if (used == CONTROL_FAILED)
		return;
	sbuf_consume(&ct->in, used);
	if (ct->in.len == 0 && ct->in.cap > CONTROL_KEEP_BUF)
		sbuf_free(&ct->in);
}

/* The client sends no more; it may still receive, unless it stopped mid-frame. */
static void control_eof(struct channel *c)
{
	if (control_of(c)->in.len > 0)
		control_fail(c, "truncated frame at end of data");
}

static void control_window(struct channel *c)
{
	control_send(c);
}

static bool control_close(struct channel *c)
{
	(void)c;
	return true;
}

static void control_release(struct channel *c)
{
	struct control *ct = control_of(c);

	if (ct == NULL)
		return; /* refused */
	if (c->sch != NULL && !c->closing)
		ct->why = "session closed";
	log_info("control channel closed session=%llu channel=%u remote_addr=%s reason=\"%s\"",
		 sid(c), ct->id, addr_of(c), ct->why);
	hub_detach(ct->sub);
	ct->sub = NULL;
	sbuf_free(&ct->in);
}

/* The pick op already checked the destination (alknet-control:0); data is not looked at. */
static void control_open(struct channel *c, const uint8_t *data, size_t len)
{
	const struct config *cfg = channel_settings(c)->cfg;

	(void)data;
	(void)len;
	const char *why = NULL;
	if (!c->set->control_allowed || !cfg->control_allow)
		why = "control channel not permitted";
	else if ((why = tcpip_permission(c, "alknet-control", 0, true)) != NULL)
		why = "control channel not permitted for this key";
	if (why != NULL) {
		log_info("control channel refused session=%llu channel=%u remote_addr=%s "
			 "reason=\"not permitted\"",
			 sid(c), ssh_channel_id(c->sch), addr_of(c));
		channel_refuse(c, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, why);
		return;
	}
	struct control *ct = xcalloc(1, sizeof(*ct));
	c->state = ct;
	ct->id = ssh_channel_id(c->sch);
	ct->why = "closed by client";
	ct->sub = hub_attach(channel_worker(c)->hub, cfg->control_max_queue, &control_hub_ops, c);
	log_info("control channel opened session=%llu channel=%u remote_addr=%s", sid(c), ct->id,
		 addr_of(c));
	channel_confirm(c);
}

const struct chan_type chan_control = {
	.name = "direct-tcpip",
	.uses_fd = false,
	.open = control_open,
	.data = control_data,
	.eof = control_eof,
	.window = control_window,
	.close = control_close,
	.release = control_release,
};
