/* The generic channel life (channel.h): type lookup, the answers to CHANNEL_OPEN, CLOSE in
 * both directions, and the one place a channel is freed. Nothing here logs a destination. */
#include "channel.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "settings.h"
#include "loop.h"
#include "ssh/ssh.h"
#include "worker.h"
#include "xmalloc.h"

static void channel_link(struct channel_set *cs, struct channel *c)
{
	c->set = cs;
	c->next = cs->list;
	if (cs->list)
		cs->list->prev = c;
	cs->list = c;
	cs->count++;
	if (cs->user)
		cs->user->channels++;
	if (c->type->uses_fd)
		cs->w->fds_used++;
}

static void channel_unlink(struct channel *c)
{
	struct channel_set *cs = c->set;

	if (c->prev)
		c->prev->next = c->next;
	else
		cs->list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	cs->count--;
	if (cs->user)
		cs->user->channels--;
	if (c->type->uses_fd)
		cs->w->fds_used--;
}

/* The budgets an open must fit in; NULL or the refusal text (RESOURCE_SHORTAGE). The
 * per-session count is the engine's (ssh_config.max_channels = --max-channels). */
static const char *over_budget(const struct channel_set *cs, const struct chan_type *type)
{
	const struct worker *w = cs->w;

	if (cs->user && cs->user->channels >= cs->w->set->cfg->max_channels_per_user)
		return "too many channels for this user";
	if (type->uses_fd && w->fd_limit > 0 && w->fds_used + 1 + w->fd_reserve > w->fd_limit)
		return "server out of resources";
	return NULL;
}

static const struct chan_type *type_find(const struct channel_set *cs, const char *name)
{
	for (const struct chan_type *const *t = cs->types; *t != NULL; t++) {
		if (strcmp((*t)->name, name) == 0)
			return *t;
	}
	return NULL;
}

static void refuse_event(struct channel_set *cs, const struct ssh_event *ev, uint32_t reason,
			 const char *text)
{
	log_debug("session %llu channel %u: refused (%u)", (unsigned long long)cs->session_id,
		  ssh_channel_id(ev->ch), reason);
	ssh_channel_refuse(cs->ssh, ev->ch, reason, text);
	cs->output(cs->owner);
}

void channel_open(struct channel_set *cs, const struct ssh_event *ev)
{
	const struct chan_type *type = type_find(cs, ev->chan_type);

	if (type == NULL) {
		refuse_event(cs, ev, SSH_OPEN_UNKNOWN_CHANNEL_TYPE,
			     "only direct-tcpip and session channels are supported");
		return;
	}
	if (type->pick)
		type = type->pick(ev->type_data, ev->type_len);
	if (cs->w->draining) {
		refuse_event(cs, ev, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, "server shutting down");
		return;
	}
	if (cs->user && cs->user->revoked) {
		refuse_event(cs, ev, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED,
			     "key no longer authorized");
		return;
	}
	const char *over = over_budget(cs, type);
	if (over != NULL) {
		refuse_event(cs, ev, SSH_OPEN_RESOURCE_SHORTAGE, over);
		return;
	}
	struct channel *c = xcalloc(1, sizeof(*c));
	c->sch = ev->ch;
	c->type = type;
	c->settings = settings_ref(cs->w->set);
	channel_link(cs, c);
	ssh_channel_set_user(ev->ch, c);
	type->open(c, ev->type_data, ev->type_len);
}

void channel_confirm(struct channel *c)
{
	ssh_channel_confirm(c->set->ssh, c->sch);
	channel_output(c);
}

void channel_refuse(struct channel *c, uint32_t reason, const char *text)
{
	struct channel_set *cs = c->set;

	log_debug("session %llu channel %u: refused (%u)", (unsigned long long)cs->session_id,
		  ssh_channel_id(c->sch), reason);
	ssh_channel_refuse(cs->ssh, c->sch, reason, text); /* the engine frees its channel */
	c->sch = NULL;
	channel_output(c);
	channel_release(c);
}

/* The type's release op runs once: at our CLOSE or at the release, whichever comes first. */
static void release_type(struct channel *c)
{
	if (c->type_released)
		return;
	c->type_released = true;
	c->type->release(c);
}

static void channel_free_cb(struct loop *l, void *ctx)
{
	struct channel *c = ctx;

	(void)l;
	settings_unref(c->settings);
	free(c->state);
	free(c);
}

void channel_release(struct channel *c)
{
	if (c->released)
		return;
	c->released = true;
	release_type(c);
	if (c->sch)
		ssh_channel_set_user(c->sch, NULL);
	struct channel_set *cs = c->set;
	channel_unlink(c);
	loop_defer(cs->w->loop, channel_free_cb, c);
	if (cs->list == NULL && cs->empty)
		cs->empty(cs->owner);
}

void channel_close(struct channel *c)
{
	if (c->closing || c->released)
		return;
	c->closing = true;
	release_type(c);
	if (c->sch) {
		ssh_channel_close(c->set->ssh, c->sch);
		channel_output(c);
	}
}

void channel_recv_data(struct channel *c, const uint8_t *p, size_t len)
{
	if (c != NULL && !c->closing && !c->released)
		c->type->data(c, p, len);
}

void channel_recv_eof(struct channel *c)
{
	if (c != NULL && !c->closing && !c->released)
		c->type->eof(c);
}

void channel_recv_window(struct channel *c)
{
	if (c != NULL && !c->closing && !c->released)
		c->type->window(c);
}

void channel_recv_request(struct channel_set *cs, const struct ssh_event *ev)
{
	struct channel *c = ssh_channel_user(ev->ch);
	bool alive = c != NULL && !c->closing && !c->released && c->type->request != NULL;
	bool ok = false;

	if (alive)
		ok = c->type->request(c, ev->name, ev->type_data, ev->type_len, ev->want_reply);
	if (ev->want_reply) {
		ssh_channel_request_reply(cs->ssh, ev->ch, ok);
		cs->output(cs->owner);
	}
	if (alive)
		channel_recv_window(c); /* the type's follow-up goes after the answer */
}

void channel_recv_close(struct channel *c)
{
	if (c == NULL)
		return;
	c->sch = NULL; /* the engine frees it */
	if (c->closing || c->type->close(c))
		channel_release(c);
}

void channel_set_pump(struct channel_set *cs)
{
	for (struct channel *c = cs->list, *next; c != NULL; c = next) {
		next = c->next;
		channel_recv_window(c);
	}
}

void channel_set_release(struct channel_set *cs)
{
	void (*empty)(void *) = cs->empty;

	cs->empty = NULL; /* teardown: nobody to tell */
	while (cs->list)
		channel_release(cs->list);
	cs->empty = empty;
}

void channel_output(struct channel *c)
{
	c->set->output(c->set->owner);
}

struct ssh *channel_ssh(const struct channel *c)
{
	return c->set->ssh;
}

struct worker *channel_worker(const struct channel *c)
{
	return c->set->w;
}

const struct settings *channel_settings(const struct channel *c)
{
	return c->settings;
}

uint64_t channel_session_id(const struct channel *c)
{
	return c->set->session_id;
}
