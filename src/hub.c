/* The event hub (hub.h): a hash table of topics, each with a list of subscription nodes; an
 * endpoint lists its own nodes too, so detaching touches only what it holds. A published
 * frame is copied once into a reference-counted message that every receiving queue points
 * to; the last queue to send it frees it. */
#include "hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define HUB_BUCKETS 1024

struct hub_msg {
	unsigned refs;
	size_t len;
	uint8_t data[];
};

struct hub_qent {
	struct hub_qent *next;
	struct hub_msg *m;
};

/* One subscription: an endpoint on a topic. */
struct hub_node {
	struct hub_topic *topic;
	struct hub_sub *sub;
	struct hub_node *tprev, *tnext; /* the topic's subscribers */
	struct hub_node *snext;		/* the endpoint's subscriptions */
};

struct hub_topic {
	struct hub_topic *next; /* hash chain */
	struct hub_node *subs;
	size_t len;
	char name[];
};

struct hub_sub {
	struct hub *hub;
	const struct hub_sub_ops *ops;
	void *ctx;
	size_t max_queue, queued;
	size_t overflow_at; /* what the queue would have held when it was cut off */
	struct hub_qent *head, *tail;
	size_t head_off; /* bytes of the head frame already sent */
	struct hub_node *nodes;
	unsigned n_nodes;
	struct hub_sub *notify_next; /* hub_publish's list of endpoints to call back */
	bool notify_queued;
	bool dead; /* cut off: gets nothing more */
};

struct hub {
	struct hub_topic **buckets;
	unsigned n_topics;
};

struct hub *hub_new(void)
{
	struct hub *h = xcalloc(1, sizeof(*h));

	h->buckets = xcalloc(HUB_BUCKETS, sizeof(*h->buckets));
	return h;
}

void hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	free(h->buckets);
	free(h);
}

static struct hub_topic **topic_slot(struct hub *h, const char *name, size_t len)
{
	uint32_t x = 2166136261u;

	for (size_t i = 0; i < len; i++)
		x = (x ^ (uint8_t)name[i]) * 16777619u;
	struct hub_topic **slot = &h->buckets[x % HUB_BUCKETS];
	while (*slot && ((*slot)->len != len || memcmp((*slot)->name, name, len) != 0))
		slot = &(*slot)->next;
	return slot;
}

static void topic_drop_if_empty(struct hub *h, struct hub_topic *t)
{
	if (t->subs != NULL)
		return;
	struct hub_topic **slot = topic_slot(h, t->name, t->len);
	*slot = t->next;
	h->n_topics--;
	free(t);
}

static void msg_unref(struct hub_msg *m)
{
	if (--m->refs == 0)
		free(m);
}

static void queue_pop(struct hub_sub *s)
{
	struct hub_qent *q = s->head;

	s->head = q->next;
	if (s->head == NULL)
		s->tail = NULL;
	s->head_off = 0;
	s->queued -= q->m->len + HUB_ENTRY_COST;
	msg_unref(q->m);
	free(q);
}

static void queue_clear(struct hub_sub *s)
{
	while (s->head)
		queue_pop(s);
}

struct hub_sub *hub_attach(struct hub *h, size_t max_queue, const struct hub_sub_ops *ops,
			   void *ctx)
{
	struct hub_sub *s = xcalloc(1, sizeof(*s));

	s->hub = h;
	s->max_queue = max_queue;
	s->ops = ops;
	s->ctx = ctx;
	return s;
}

static void node_unlink(struct hub *h, struct hub_node *n)
{
	struct hub_topic *t = n->topic;

	if (n->tprev)
		n->tprev->tnext = n->tnext;
	else
		t->subs = n->tnext;
	if (n->tnext)
		n->tnext->tprev = n->tprev;
	free(n);
	topic_drop_if_empty(h, t);
}

void hub_detach(struct hub_sub *s)
{
	if (s == NULL)
		return;
	while (s->nodes) {
		struct hub_node *n = s->nodes;
		s->nodes = n->snext;
		node_unlink(s->hub, n);
	}
	queue_clear(s);
	free(s);
}

static struct hub_node **node_slot(struct hub_sub *s, const char *topic, size_t len)
{
	struct hub_node **slot = &s->nodes;

	while (*slot && ((*slot)->topic->len != len || memcmp((*slot)->topic->name, topic, len)))
		slot = &(*slot)->snext;
	return slot;
}

int hub_subscribe(struct hub_sub *s, const char *topic, size_t len)
{
	if (*node_slot(s, topic, len) != NULL)
		return 0;
	if (s->n_nodes >= HUB_MAX_TOPICS)
		return -ENOSPC;
	struct hub_topic **slot = topic_slot(s->hub, topic, len);
	if (*slot == NULL) {
		*slot = xcalloc(1, sizeof(**slot) + len + 1);
		memcpy((*slot)->name, topic, len);
		(*slot)->len = len;
		s->hub->n_topics++;
	}
	struct hub_topic *t = *slot;
	struct hub_node *n = xcalloc(1, sizeof(*n));
	n->topic = t;
	n->sub = s;
	n->tnext = t->subs;
	if (t->subs)
		t->subs->tprev = n;
	t->subs = n;
	n->snext = s->nodes;
	s->nodes = n;
	s->n_nodes++;
	return 0;
}

void hub_unsubscribe(struct hub_sub *s, const char *topic, size_t len)
{
	struct hub_node **slot = node_slot(s, topic, len);
	struct hub_node *n = *slot;

	if (n == NULL)
		return;
	*slot = n->snext;
	s->n_nodes--;
	node_unlink(s->hub, n);
}

/* Appends m to s's queue, or cuts s off when it would pass its limit. */
static void enqueue(struct hub_sub *s, struct hub_msg *m)
{
	size_t cost = m->len + HUB_ENTRY_COST;

	if (cost > s->max_queue || s->queued > s->max_queue - cost) {
		s->overflow_at = s->queued + cost;
		s->dead = true;
		queue_clear(s);
		return;
	}
	struct hub_qent *q = xmalloc(sizeof(*q));
	q->next = NULL;
	q->m = m;
	m->refs++;
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	s->queued += cost;
}

/* After the topic's list was walked: each endpoint that got something (or was cut off) is
 * told once. A callback may detach its own endpoint, so the next one is read first. */
static void notify_all(struct hub_sub *list)
{
	for (struct hub_sub *s = list, *next; s != NULL; s = next) {
		next = s->notify_next;
		s->notify_next = NULL;
		s->notify_queued = false;
		if (s->dead)
			s->ops->overflow(s->ctx, s->overflow_at);
		else
			s->ops->ready(s->ctx);
	}
}

void hub_publish(struct hub_sub *from, const char *topic, size_t tlen, const uint8_t *frame,
		 size_t len)
{
	struct hub_topic *t = *topic_slot(from->hub, topic, tlen);
	struct hub_sub *notify = NULL;
	struct hub_msg *m = NULL;

	if (t == NULL)
		return;
	for (struct hub_node *n = t->subs; n != NULL; n = n->tnext) {
		struct hub_sub *s = n->sub;
		if (s == from || s->dead)
			continue;
		if (m == NULL) {
			m = xmalloc(sizeof(*m) + len);
			m->refs = 1; /* ours, until the walk is done */
			m->len = len;
			memcpy(m->data, frame, len);
		}
		enqueue(s, m);
		if (!s->notify_queued) {
			s->notify_queued = true;
			s->notify_next = notify;
			notify = s;
		}
	}
	if (m)
		msg_unref(m);
	notify_all(notify);
}

const uint8_t *hub_peek(const struct hub_sub *s, size_t *len)
{
	if (s->head == NULL) {
		*len = 0;
		return NULL;
	}
	*len = s->head->m->len - s->head_off;
	return s->head->m->data + s->head_off;
}

void hub_consume(struct hub_sub *s, size_t n)
{
	while (n > 0 && s->head) {
		size_t left = s->head->m->len - s->head_off;
		size_t k = n < left ? n : left;
		s->head_off += k;
		n -= k;
		if (s->head_off == s->head->m->len)
			queue_pop(s);
	}
}

size_t hub_queued(const struct hub_sub *s)
{
	return s->queued;
}

unsigned hub_sub_topics(const struct hub_sub *s)
{
	return s->n_nodes;
}

unsigned hub_topics(const struct hub *h)
{
	return h->n_topics;
}
