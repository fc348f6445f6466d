/* OpenSSH's algorithm-list syntax (alglist.h). The result is built as spans into def and
 * supported (trusted strings), so its size is bounded by supported whatever spec holds. */
#include "alglist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* A name: n bytes at p. */
struct span {
	const char *p;
	size_t n;
};

/* The names being collected, each once. cap is the number of names in supported: every name
 * added is one of them, so the array never grows past it. */
struct names {
	struct span *v;
	size_t n, cap;
};

bool alglist_match(const char *pattern, size_t plen, const char *name, size_t nlen)
{
	size_t p = 0, n = 0, star = (size_t)-1, resume = 0;

	while (n < nlen) {
		if (p < plen && (pattern[p] == '?' || pattern[p] == name[n])) {
			p++;
			n++;
		} else if (p < plen && pattern[p] == '*') {
			star = p++;
			resume = n;
		} else if (star != (size_t)-1) {
			/* the last '*' takes one more character; earlier ones need not move */
			p = star + 1;
			n = ++resume;
		} else {
			return false;
		}
	}
	while (p < plen && pattern[p] == '*')
		p++;
	return p == plen;
}

static bool names_have(const struct names *l, const char *p, size_t n)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].n == n && memcmp(l->v[i].p, p, n) == 0)
			return true;
	}
	return false;
}

static void names_add(struct names *l, const char *p, size_t n)
{
	if (!names_have(l, p, n) && l->n < l->cap)
		l->v[l->n++] = (struct span){p, n};
}

/* Calls each name of a comma-separated list in turn: returns the next one, or false at the
 * end. *cur walks the list. */
static bool next_name(const char **cur, const char *end, struct span *s)
{
	if (*cur > end)
		return false;
	const char *c = memchr(*cur, ',', (size_t)(end - *cur));
	const char *e = c ? c : end;
	s->p = *cur;
	s->n = (size_t)(e - *cur);
	*cur = e + 1;
	return true;
}

/* "NAME" for messages: at most 64 bytes of it, anything unprintable shown as '?'. */
static void quote(char out[72], const char *p, size_t n)
{
	size_t k = n < 64 ? n : 64;

	for (size_t i = 0; i < k; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	strcpy(out + k, n > 64 ? "..." : "");
}

static int fail(char *err, size_t errlen, const char *what, const struct span *s)
{
	char q[72] = "";

	if (s)
		quote(q, s->p, s->n);
	if (errlen)
		snprintf(err, errlen, what, q);
	return -1;
}

static bool has_wildcard(const struct span *s)
{
	return memchr(s->p, '*', s->n) != NULL || memchr(s->p, '?', s->n) != NULL;
}

/* Adds the supported names s stands for (itself, or what its pattern matches), to l when l
 * is not NULL. Returns 0, or -1 after writing the reason to err. */
static int expand(const struct span *s, const char *supported, struct names *l, char *err,
		  size_t errlen)
{
	const char *cur = supported, *end = supported + strlen(supported);
	struct span c;
	bool any = false;

	if (s->n == 0)
		return fail(err, errlen, "empty algorithm name in the list%s", NULL);
	if (s->p[0] == '!')
		return fail(err, errlen, "'%s': negation (!) is not supported here", s);
	while (next_name(&cur, end, &c)) {
		if (!alglist_match(s->p, s->n, c.p, c.n))
			continue;
		any = true;
		if (l)
			names_add(l, c.p, c.n);
	}
	if (!any && has_wildcard(s))
		return fail(err, errlen, "'%s' matches no supported algorithm", s);
	if (!any)
		return fail(err, errlen, "unknown algorithm '%s'", s);
	return 0;
}

/* Every name of list (spec's body) expanded into l, or only checked when l is NULL. */
static int expand_all(const char *list, const char *supported, struct names *l, char *err,
		      size_t errlen)
{
	const char *cur = list, *end = list + strlen(list);
	struct span s;

	while (next_name(&cur, end, &s)) {
		if (expand(&s, supported, l, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static void add_list(struct names *l, const char *list)
{
	const char *cur = list, *end = list + strlen(list);
	struct span s;

	while (next_name(&cur, end, &s)) {
		if (s.n > 0)
			names_add(l, s.p, s.n);
	}
}

/* def's names that no name of body matches (body was checked already). */
static void remove_matching(struct names *l, const char *def, const char *body)
{
	const char *cur = def, *dend = def + strlen(def);
	struct span d, b;

	while (next_name(&cur, dend, &d)) {
		const char *bc = body, *bend = body + strlen(body);
		bool drop = d.n == 0;
		while (!drop && next_name(&bc, bend, &b))
			drop = alglist_match(b.p, b.n, d.p, d.n);
		if (!drop)
			names_add(l, d.p, d.n);
	}
}

static char *join(const struct names *l)
{
	size_t len = 1;

	for (size_t i = 0; i < l->n; i++)
		len += l->v[i].n + 1;
	char *out = xmalloc(len), *o = out;
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			*o++ = ',';
		memcpy(o, l->v[i].p, l->v[i].n);
		o += l->v[i].n;
	}
	*o = '\0';
	return out;
}

int alglist_edit(const char *def, const char *supported, const char *spec, char **out, char *err,
		 size_t errlen)
{
	char mode = spec[0] == '+' || spec[0] == '-' || spec[0] == '^' ? spec[0] : '=';
	const char *body = mode == '=' ? spec : spec + 1;
	struct names l = {.cap = 1};
	int ret = -1;

	for (const char *p = supported; *p; p++)
		l.cap += *p == ',';
	l.v = xcalloc(l.cap, sizeof(*l.v));
	if (*body == '\0') {
		fail(err, errlen, "empty algorithm list%s", NULL);
		goto out;
	}
	if (mode == '+')
		add_list(&l, def);
	if (expand_all(body, supported, mode == '-' ? NULL : &l, err, errlen) != 0)
		goto out;
	if (mode == '^')
		add_list(&l, def);
	if (mode == '-')
		remove_matching(&l, def, body);
	if (l.n == 0) {
		fail(err, errlen, "no algorithm left in the list%s", NULL);
		goto out;
	}
	*out = join(&l);
	ret = 0;
out:
	free(l.v);
	return ret;
}
