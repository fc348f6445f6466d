/* Connection admission (limits.h). Counts live in one small hash table keyed by an address or
 * a source block; an entry goes when its count reaches 0. Penalties live in their own table
 * (penalty.c), keyed by source block. */
#include "limits.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrmatch.h"
#include "config.h"
#include "loop.h"
#include "penalty.h"
#include "worker.h"
#include "xmalloc.h"

#define LIMITS_BUCKETS 4096
/* Accepting needs a few descriptors of its own (the socket, a log line, a reload). */
#define LIMITS_FD_FLOOR 8

enum limits_kind {
	LIMITS_ADDR = 0,   /* one client address: --max-connections-per-ip */
	LIMITS_SOURCE = 1, /* a source block (--per-source-prefix): --per-source-max-startups */
};

struct limits_entry {
	struct limits_entry *next;
	uint8_t key[18]; /* kind, family, then the address bytes */
	uint8_t len;
	unsigned count;
};

struct limits {
	const struct config *cfg;
	struct limits_entry *bucket[LIMITS_BUCKETS];
	unsigned unauth; /* unauthenticated connections admitted and not yet logged in or gone */
	struct penalty_table *penalties; /* NULL when --per-source-penalty off */
};

struct limits *limits_new(const struct config *cfg)
{
	struct limits *lim = xcalloc(1, sizeof(*lim));

	lim->cfg = cfg;
	if (!cfg->penalty.off)
		lim->penalties = penalty_table_new(&cfg->penalty, 0);
	return lim;
}

void limits_configure(struct limits *lim, const struct config *cfg)
{
	lim->cfg = cfg;
	/* The table keeps what sources earned; only its rules change (off: nobody is refused). */
	if (lim->penalties)
		penalty_table_configure(lim->penalties, &cfg->penalty);
	else if (!cfg->penalty.off)
		lim->penalties = penalty_table_new(&cfg->penalty, 0);
}

void limits_free(struct limits *lim)
{
	if (lim == NULL)
		return;
	for (size_t i = 0; i < LIMITS_BUCKETS; i++) {
		while (lim->bucket[i]) {
			struct limits_entry *e = lim->bucket[i];
			lim->bucket[i] = e->next;
			free(e);
		}
	}
	penalty_table_free(lim->penalties);
	free(lim);
}

/* The key of peer for kind: the kind byte, the family (4 or 6), then its 4 or 16 address
 * bytes (an IPv4-mapped IPv6 address as IPv4), cut to the source prefix for LIMITS_SOURCE. */
static uint8_t limits_key(const struct limits *lim, const struct sockaddr_storage *ss,
			  enum limits_kind kind, uint8_t key[18])
{
	uint8_t addr[16];
	int family = addrmatch_addr(ss, addr);
	uint8_t n = family == AF_INET ? 4 : 16;

	if (kind == LIMITS_SOURCE)
		addrmatch_mask(family, addr,
			       family == AF_INET ? lim->cfg->source_prefix4
						 : lim->cfg->source_prefix6);
	key[0] = (uint8_t)kind;
	key[1] = family == AF_INET ? 4 : 6;
	memcpy(key + 2, addr, n);
	return (uint8_t)(2 + n);
}

static struct limits_entry **limits_slot(struct limits *lim, const uint8_t *key, uint8_t len)
{
	uint32_t h = 2166136261u;

	for (uint8_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	struct limits_entry **p = &lim->bucket[h % LIMITS_BUCKETS];
	while (*p && ((*p)->len != len || memcmp((*p)->key, key, len) != 0))
		p = &(*p)->next;
	return p;
}

/* The count of peer's entry of kind (0 when there is none). */
static unsigned limits_count(struct limits *lim, const struct sockaddr_storage *ss,
			     enum limits_kind kind)
{
	uint8_t key[18], len = limits_key(lim, ss, kind, key);
	struct limits_entry *e = *limits_slot(lim, key, len);

	return e ? e->count : 0;
}

/* Adds delta (+1 or -1) to peer's entry of kind. */
static void limits_add(struct limits *lim, const struct sockaddr_storage *ss, enum limits_kind kind,
		       int delta)
{
	uint8_t key[18], len = limits_key(lim, ss, kind, key);
	struct limits_entry **p = limits_slot(lim, key, len);

	if (*p == NULL) {
		if (delta < 0)
			return;
		*p = xcalloc(1, sizeof(**p));
		memcpy((*p)->key, key, len);
		(*p)->len = len;
	}
	(*p)->count += (unsigned)delta;
	if ((*p)->count == 0) {
		struct limits_entry *e = *p;
		*p = e->next;
		free(e);
	}
}

/* OpenSSH's MaxStartups: below start always, from start on refused with probability rate %,
 * rising linearly to 100 % at full. */
static bool startups_drop(const struct limits *lim)
{
	const struct config *c = lim->cfg;

	if (lim->unauth < c->startups_begin)
		return false;
	if (lim->unauth >= c->startups_full)
		return true;
	unsigned span = c->startups_full - c->startups_begin;
	unsigned p = c->startups_rate +
		     (100 - c->startups_rate) * (lim->unauth - c->startups_begin) / span;
	return (unsigned)(random() % 100) < p;
}

/* The penalty table's key of peer: its source block's key without the kind byte. */
static uint8_t penalty_key(const struct limits *lim, const struct sockaddr_storage *peer,
			   uint8_t key[PENALTY_KEY_MAX])
{
	uint8_t k[18], len = limits_key(lim, peer, LIMITS_SOURCE, k);

	memcpy(key, k + 1, (size_t)len - 1);
	return (uint8_t)(len - 1);
}

static bool limits_penalised(struct limits *lim, const struct worker *w,
			     const struct sockaddr_storage *peer)
{
	uint8_t key[PENALTY_KEY_MAX], len = penalty_key(lim, peer, key);

	return penalty_refused(lim->penalties, key, len, loop_now_ms(w->loop));
}

bool limits_penalise(struct limits *lim, const struct worker *w,
		     const struct sockaddr_storage *peer, enum penalty_kind kind)
{
	uint8_t key[PENALTY_KEY_MAX], len;

	/* A load balancer's own connections (its health checks: PROXY v2 LOCAL) are never
	 * penalised: that would take every client behind it down with it. */
	if (lim->penalties == NULL || penalty_seconds(&lim->cfg->penalty, kind) == 0 ||
	    addrmatch_match(lim->cfg->penalty_exempt, peer) ||
	    (lim->cfg->proxy_protocol != 0 && addrmatch_match(lim->cfg->proxy_protocol_from, peer)))
		return false;
	len = penalty_key(lim, peer, key);
	penalty_add(lim->penalties, key, len, kind, loop_now_ms(w->loop));
	return true;
}

const char *limits_admit(struct limits *lim, const struct worker *w,
			 const struct sockaddr_storage *peer)
{
	const struct config *c = lim->cfg;

	if (w->fd_limit > 0 && w->fds_used + LIMITS_FD_FLOOR >= w->fd_limit)
		return "out-of-descriptors";
	if (lim->penalties && limits_penalised(lim, w, peer))
		return "penalty";
	if (c->max_connections_per_ip > 0 &&
	    limits_count(lim, peer, LIMITS_ADDR) >= c->max_connections_per_ip)
		return "max-connections-per-ip";
	if (c->per_source_startups > 0 &&
	    limits_count(lim, peer, LIMITS_SOURCE) >= c->per_source_startups)
		return "per-source-max-startups";
	if (startups_drop(lim))
		return "max-startups";
	limits_add(lim, peer, LIMITS_ADDR, 1);
	limits_add(lim, peer, LIMITS_SOURCE, 1);
	lim->unauth++;
	return NULL;
}

const char *limits_admit_pending(struct limits *lim, const struct worker *w)
{
	if (w->fd_limit > 0 && w->fds_used + LIMITS_FD_FLOOR >= w->fd_limit)
		return "out-of-descriptors";
	if (startups_drop(lim))
		return "max-startups";
	lim->unauth++;
	return NULL;
}

void limits_pending_done(struct limits *lim)
{
	lim->unauth--;
}

void limits_logged_in(struct limits *lim, const struct sockaddr_storage *peer)
{
	limits_add(lim, peer, LIMITS_SOURCE, -1);
	lim->unauth--;
}

void limits_closed(struct limits *lim, const struct sockaddr_storage *peer, bool logged_in)
{
	limits_add(lim, peer, LIMITS_ADDR, -1);
	if (!logged_in)
		limits_logged_in(lim, peer);
}
