/* Per-source penalties (OpenSSH 9.8 PerSourcePenalties): connections that end badly (failed
 * logins, no login attempt at all, the login grace time running out) earn their source
 * block seconds of refusal. Penalties add up while they last, capped at `max`; a source is
 * refused only once what it has earned reaches `min`, so one mistyped key costs nothing.
 *
 * This module is the spec parser and the table, with the time passed in (no clocks, no
 * sockets: unit-testable and fuzzable). limits.c owns one table per loop and decides which
 * connections earn what. C library only. */
#ifndef ALKNET_PENALTY_H
#define ALKNET_PENALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sources the table remembers at most; beyond it the least recently penalised is forgotten
 * (OpenSSH's max-sources with overflow:permissive: a flood of sources can only shorten its
 * own penalties, never lock anybody else out). */
#define PENALTY_MAX_SOURCES 65536
/* Longest key: a kind byte and an IPv6 address. */
#define PENALTY_KEY_MAX 17

enum penalty_kind {
	PENALTY_AUTHFAIL = 0, /* ended after failed auth attempts, never logged in */
	PENALTY_NOAUTH = 1,   /* ended without attempting auth */
	PENALTY_GRACE = 2,    /* the login grace time ran out */
};

/* --per-source-penalty. Seconds each; off: no penalties at all. */
struct penalty_cfg {
	bool off;
	unsigned authfail_s, noauth_s, grace_s;
	unsigned max_s, min_s;
};

/* OpenSSH's defaults: authfail:5,noauth:1,grace-exceeded:10,max:600,min:15. */
void penalty_cfg_default(struct penalty_cfg *cfg);
/* "off", or comma-separated keyword:duration pairs overriding the defaults: authfail,
 * noauth, grace-exceeded, max, min; a duration is N, Ns, Nm or Nh, at most a day. Each
 * keyword at most once; min may not exceed max. Returns 0, or -EINVAL with a reason in err
 * (cfg is then unchanged). */
int penalty_parse(const char *s, struct penalty_cfg *cfg, char *err, size_t errlen);
unsigned penalty_seconds(const struct penalty_cfg *cfg, enum penalty_kind kind);

struct penalty_table;

/* cfg is borrowed and must outlive the table; max_sources 0 means PENALTY_MAX_SOURCES. */
struct penalty_table *penalty_table_new(const struct penalty_cfg *cfg, size_t max_sources);
/* A reload: cfg (which must outlive its use, like the first one) replaces the rules. */
void penalty_table_configure(struct penalty_table *t, const struct penalty_cfg *cfg);
void penalty_table_free(struct penalty_table *t);
/* The source with this key (up to PENALTY_KEY_MAX bytes) earns kind's seconds at now_ms. */
void penalty_add(struct penalty_table *t, const uint8_t *key, size_t len, enum penalty_kind kind,
		 uint64_t now_ms);
/* True while the source is refused. Forgets its entry once expired. */
bool penalty_refused(struct penalty_table *t, const uint8_t *key, size_t len, uint64_t now_ms);
/* Sources remembered (tests). */
size_t penalty_sources(const struct penalty_table *t);

#endif
