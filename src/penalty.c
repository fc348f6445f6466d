/* Per-source penalties (penalty.h): the spec parser and the table. The table is a hash of
 * entries, also kept on a list in the order they were last penalised, so that expired and
 * overflowing entries go from its head in O(1): an entry's expiry is at most max seconds
 * after its last penalty, so the head is the first to lapse, give or take max - min. */
#include "penalty.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define PENALTY_BUCKETS	     16384
#define PENALTY_DURATION_MAX 86400
/* Expired entries dropped from the head per penalty_add: bounded work per call. */
#define PENALTY_REAP_PER_ADD 8

struct penalty_entry {
	struct penalty_entry *next;	     /* hash chain */
	struct penalty_entry *older, *newer; /* the list by last penalty */
	uint64_t expiry_ms;
	bool active; /* what was earned reached min: refused until expiry */
	uint8_t len;
	uint8_t key[PENALTY_KEY_MAX];
};

struct penalty_table {
	const struct penalty_cfg *cfg;
	size_t max, n;
	struct penalty_entry *oldest, *newest;
	struct penalty_entry *bucket[PENALTY_BUCKETS];
};

void penalty_cfg_default(struct penalty_cfg *cfg)
{
	*cfg = (struct penalty_cfg){
		.authfail_s = 5, .noauth_s = 1, .grace_s = 10, .max_s = 600, .min_s = 15};
}

unsigned penalty_seconds(const struct penalty_cfg *cfg, enum penalty_kind kind)
{
	switch (kind) {
	case PENALTY_AUTHFAIL:
		return cfg->authfail_s;
	case PENALTY_NOAUTH:
		return cfg->noauth_s;
	case PENALTY_GRACE:
		return cfg->grace_s;
	}
	return 0;
}

static int spec_fail(char *err, size_t errlen, const char *why, const char *word, size_t n)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s: '%.*s'", why, (int)(n > 40 ? 40 : n), word);
	return -EINVAL;
}

/* N, Ns, Nm or Nh in [p, end), at most PENALTY_DURATION_MAX seconds. */
static int parse_duration(const char *p, const char *end, unsigned *out)
{
	unsigned long v = 0, unit = 1;

	if (end > p && (end[-1] == 's' || end[-1] == 'm' || end[-1] == 'h')) {
		unit = end[-1] == 's' ? 1 : end[-1] == 'm' ? 60 : 3600;
		end--;
	}
	if (p == end || end - p > 6)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v * unit > PENALTY_DURATION_MAX)
		return -1;
	*out = (unsigned)(v * unit);
	return 0;
}

/* The field of cfg a keyword names, or NULL. */
static unsigned *spec_field(struct penalty_cfg *cfg, const char *w, size_t n, unsigned *bit)
{
	static const char *const names[] = {"authfail", "noauth", "grace-exceeded", "max", "min"};
	unsigned *fields[] = {&cfg->authfail_s, &cfg->noauth_s, &cfg->grace_s, &cfg->max_s,
			      &cfg->min_s};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == n && memcmp(names[i], w, n) == 0) {
			*bit = 1u << i;
			return fields[i];
		}
	}
	return NULL;
}

/* One "keyword:duration" in [p, end), blanks trimmed already. */
static int parse_pair(struct penalty_cfg *cfg, const char *p, const char *end, unsigned *seen,
		      char *err, size_t errlen)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	unsigned bit, *field;

	if (colon == NULL)
		return spec_fail(err, errlen, "expected keyword:duration", p, (size_t)(end - p));
	field = spec_field(cfg, p, (size_t)(colon - p), &bit);
	if (field == NULL)
		return spec_fail(err, errlen, "unknown keyword", p, (size_t)(colon - p));
	if (*seen & bit)
		return spec_fail(err, errlen, "keyword given twice", p, (size_t)(colon - p));
	*seen |= bit;
	if (parse_duration(colon + 1, end, field) != 0)
		return spec_fail(err, errlen, "bad duration (N, Ns, Nm or Nh, at most 24h)",
				 colon + 1, (size_t)(end - colon - 1));
	return 0;
}

int penalty_parse(const char *s, struct penalty_cfg *cfg, char *err, size_t errlen)
{
	struct penalty_cfg c;
	unsigned seen = 0;

	penalty_cfg_default(&c);
	if (strcmp(s, "off") == 0) {
		c.off = true;
		*cfg = c;
		return 0;
	}
	for (const char *p = s;;) {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b)
			return spec_fail(err, errlen, "empty entry", p, (size_t)(end - p));
		if (parse_pair(&c, a, b, &seen, err, errlen) != 0)
			return -EINVAL;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (c.min_s > c.max_s)
		return spec_fail(err, errlen, "min exceeds max", s, strlen(s));
	*cfg = c;
	return 0;
}

struct penalty_table *penalty_table_new(const struct penalty_cfg *cfg, size_t max_sources)
{
	struct penalty_table *t = xcalloc(1, sizeof(*t));

	t->cfg = cfg;
	t->max = max_sources > 0 ? max_sources : PENALTY_MAX_SOURCES;
	return t;
}

void penalty_table_free(struct penalty_table *t)
{
	if (t == NULL)
		return;
	while (t->oldest) {
		struct penalty_entry *e = t->oldest;
		t->oldest = e->newer;
		free(e);
	}
	free(t);
}

static struct penalty_entry **penalty_slot(struct penalty_table *t, const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	struct penalty_entry **p = &t->bucket[h % PENALTY_BUCKETS];
	while (*p && ((*p)->len != len || memcmp((*p)->key, key, len) != 0))
		p = &(*p)->next;
	return p;
}

static void list_unlink(struct penalty_table *t, struct penalty_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	e->older = e->newer = NULL;
}

static void list_append(struct penalty_table *t, struct penalty_entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
}

/* Unlinks e (found at *slot) from both and frees it. */
static void entry_drop(struct penalty_table *t, struct penalty_entry **slot)
{
	struct penalty_entry *e = *slot;

	*slot = e->next;
	list_unlink(t, e);
	free(e);
	t->n--;
}

static void drop_oldest(struct penalty_table *t)
{
	struct penalty_entry *e = t->oldest;

	entry_drop(t, penalty_slot(t, e->key, e->len));
}

void penalty_add(struct penalty_table *t, const uint8_t *key, size_t len, enum penalty_kind kind,
		 uint64_t now_ms)
{
	uint64_t secs = penalty_seconds(t->cfg, kind), max_ms = (uint64_t)t->cfg->max_s * 1000;

	if (t->cfg->off || secs == 0 || len == 0 || len > PENALTY_KEY_MAX)
		return;
	for (int i = 0; i < PENALTY_REAP_PER_ADD && t->oldest && t->oldest->expiry_ms <= now_ms;
	     i++)
		drop_oldest(t);
	struct penalty_entry **slot = penalty_slot(t, key, len), *e = *slot;
	if (e == NULL) {
		if (t->n >= t->max)
			drop_oldest(t);
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, len);
		e->len = (uint8_t)len;
		slot = penalty_slot(t, key, len); /* the drop may have changed the chain */
		*slot = e;
		t->n++;
	} else {
		list_unlink(t, e);
	}
	if (e->expiry_ms <= now_ms) {
		e->expiry_ms = now_ms;
		e->active = false;
	}
	e->expiry_ms += secs * 1000;
	if (e->expiry_ms - now_ms > max_ms)
		e->expiry_ms = now_ms + max_ms;
	if (e->expiry_ms - now_ms >= (uint64_t)t->cfg->min_s * 1000)
		e->active = true;
	list_append(t, e);
}

void penalty_table_configure(struct penalty_table *t, const struct penalty_cfg *cfg)
{
	t->cfg = cfg;
}

bool penalty_refused(struct penalty_table *t, const uint8_t *key, size_t len, uint64_t now_ms)
{
	if (t->cfg->off || len == 0 || len > PENALTY_KEY_MAX)
		return false;
	struct penalty_entry **slot = penalty_slot(t, key, len);
	if (*slot == NULL)
		return false;
	if ((*slot)->expiry_ms <= now_ms) {
		entry_drop(t, slot);
		return false;
	}
	return (*slot)->active;
}

size_t penalty_sources(const struct penalty_table *t)
{
	return t->n;
}
