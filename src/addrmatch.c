/* Address lists (addrmatch.h). Every byte of the text is checked: a list usually comes from
 * an operator, but from= and policy rules will read it from files others may write. */
#include "addrmatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* The longest entry: a full IPv6 address with an IPv4 tail and "/128". */
#define ADDRMATCH_ENTRY_MAX 64

static int fail(char *err, size_t errlen, const char *why)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

void addrmatch_mask(int family, uint8_t addr[16], unsigned prefix)
{
	unsigned bytes = family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* "/n" within [0, max], decimal, no sign, no leading zeros beyond "0". */
static int parse_prefix(const char *p, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(p);

	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* One entry, trimmed, NUL-terminated, at most ADDRMATCH_ENTRY_MAX bytes (changed: the '/'
 * becomes a NUL). */
static int parse_entry(char *e, struct addrmatch_net *net, char *err, size_t errlen)
{
	char *slash = strchr(e, '/');
	uint8_t addr[16] = {0};
	unsigned prefix;
	int family = AF_INET;

	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, e, addr) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, e, addr) != 1)
			return fail(err, errlen, "not an IPv4 or IPv6 address");
	}
	unsigned max = family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash && parse_prefix(slash + 1, max, &prefix) != 0)
		return fail(err, errlen, "bad prefix length");
	uint8_t masked[16];
	memcpy(masked, addr, sizeof(masked));
	addrmatch_mask(family, masked, prefix);
	if (memcmp(masked, addr, sizeof(addr)) != 0)
		return fail(err, errlen, "address has bits set below the prefix");
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (family == AF_INET6 && prefix >= 96 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		/* ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n - 96): peers are matched so */
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		family = AF_INET;
		prefix -= 96;
	}
	net->family = (uint8_t)family;
	net->prefix = (uint8_t)prefix;
	memcpy(net->addr, addr, sizeof(net->addr));
	return 0;
}

/* Copies the entry [p, end) without surrounding blanks into buf. */
static int take_entry(const char *p, const char *end, char buf[ADDRMATCH_ENTRY_MAX + 1], char *err,
		      size_t errlen)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end)
		return fail(err, errlen, "empty entry");
	if ((size_t)(end - p) > ADDRMATCH_ENTRY_MAX)
		return fail(err, errlen, "entry too long");
	if (memchr(p, '\0', (size_t)(end - p)) != NULL)
		return fail(err, errlen, "bad character");
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return 0;
}

int addrmatch_parse(const char *s, struct addrmatch **out, char *err, size_t errlen)
{
	size_t n = 1;
	int ret = -EINVAL;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	if (n > ADDRMATCH_MAX)
		return fail(err, errlen, "too many entries");
	struct addrmatch *m = xcalloc(1, sizeof(*m) + n * sizeof(m->net[0]));
	for (const char *p = s;; p++) {
		const char *end = strchr(p, ',');
		char buf[ADDRMATCH_ENTRY_MAX + 1];
		if (end == NULL)
			end = p + strlen(p);
		ret = take_entry(p, end, buf, err, errlen);
		if (ret == 0)
			ret = parse_entry(buf, &m->net[m->n], err, errlen);
		if (ret != 0)
			goto out;
		m->n++;
		p = end;
		if (*p == '\0')
			break;
	}
	*out = m;
	m = NULL;
	ret = 0;
out:
	addrmatch_free(m);
	return ret;
}

void addrmatch_free(struct addrmatch *m)
{
	free(m);
}

int addrmatch_addr(const struct sockaddr_storage *ss, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return AF_INET;
	}
	if (ss->ss_family != AF_INET6)
		return 0;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		memcpy(out, a->s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, a->s6_addr, 16);
	return AF_INET6;
}

static bool net_contains(const struct addrmatch_net *net, int family, const uint8_t addr[16])
{
	uint8_t masked[16];

	if (net->family != family)
		return false;
	memcpy(masked, addr, sizeof(masked));
	addrmatch_mask(family, masked, net->prefix);
	return memcmp(masked, net->addr, family == AF_INET ? 4 : 16) == 0;
}

bool addrmatch_match(const struct addrmatch *m, const struct sockaddr_storage *ss)
{
	uint8_t addr[16];
	int family = addrmatch_addr(ss, addr);

	if (m == NULL || family == 0)
		return false;
	for (size_t i = 0; i < m->n; i++) {
		if (net_contains(&m->net[i], family, addr))
			return true;
	}
	return false;
}

bool addrmatch_net_match(const struct addrmatch_net *net, const struct sockaddr_storage *ss)
{
	uint8_t addr[16];
	int family = addrmatch_addr(ss, addr);

	return family != 0 && net_contains(net, family, addr);
}

int addrmatch_parse_net(const char *s, struct addrmatch_net *out, char *err, size_t errlen)
{
	char buf[ADDRMATCH_ENTRY_MAX + 1];
	size_t n = strlen(s);

	if (n == 0 || n > ADDRMATCH_ENTRY_MAX || strcspn(s, " \t") != n)
		return fail(err, errlen, "not an IPv4 or IPv6 address");
	memcpy(buf, s, n + 1);
	return parse_entry(buf, out, err, errlen);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Iterative: on a mismatch after a `*`, that star takes one more character (no recursion, so
 * a hostile pattern costs at most len(pat) * len(s) steps). */
bool addrmatch_glob(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*pat == '*') {
			star = ++pat;
			resume = s;
		} else if (*pat != '\0' && (*pat == '?' || lower(*pat) == lower(*s))) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

struct addrmatch_pat {
	bool neg;
	bool is_net;
	struct addrmatch_net net;
	char *glob; /* when !is_net */
};

struct addrmatch_patterns {
	size_t n;
	struct addrmatch_pat pat[]; /* n of them */
};

/* Numeric-looking entries must parse as an address: a typo there must not turn into a glob
 * that silently never matches. */
static bool looks_numeric(const char *e)
{
	return strspn(e, "0123456789abcdefABCDEF.:/") == strlen(e) && strpbrk(e, ".:") != NULL;
}

static int parse_pattern(char *e, struct addrmatch_pat *p, char *err, size_t errlen)
{
	if (*e == '!') {
		p->neg = true;
		e++;
	}
	if (*e == '\0' || *e == '!')
		return fail(err, errlen, "empty pattern");
	for (const char *c = e; *c; c++) {
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return fail(err, errlen, "bad character in pattern");
	}
	if (looks_numeric(e)) {
		p->is_net = true;
		return parse_entry(e, &p->net, err, errlen);
	}
	p->glob = xstrdup(e);
	return 0;
}

int addrmatch_parse_patterns(const char *s, struct addrmatch_patterns **out, char *err,
			     size_t errlen)
{
	size_t n = 1;
	int ret = -EINVAL;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	if (n > ADDRMATCH_MAX)
		return fail(err, errlen, "too many entries");
	struct addrmatch_patterns *m = xcalloc(1, sizeof(*m) + n * sizeof(m->pat[0]));
	for (const char *p = s;; p++) {
		const char *end = strchr(p, ',');
		char buf[ADDRMATCH_ENTRY_MAX + 1];
		if (end == NULL)
			end = p + strlen(p);
		ret = take_entry(p, end, buf, err, errlen);
		if (ret == 0)
			ret = parse_pattern(buf, &m->pat[m->n], err, errlen);
		m->n++; /* counted even on failure: its glob is freed with the list */
		if (ret != 0)
			goto out;
		p = end;
		if (*p == '\0')
			break;
	}
	*out = m;
	m = NULL;
	ret = 0;
out:
	addrmatch_patterns_free(m);
	return ret;
}

void addrmatch_patterns_free(struct addrmatch_patterns *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->pat[i].glob);
	free(p);
}

bool addrmatch_patterns_match(const struct addrmatch_patterns *p, const struct sockaddr_storage *ss)
{
	uint8_t addr[16];
	int family = addrmatch_addr(ss, addr);
	char text[INET6_ADDRSTRLEN];
	bool hit = false;

	if (p == NULL || family == 0 || inet_ntop(family, addr, text, sizeof(text)) == NULL)
		return false;
	for (size_t i = 0; i < p->n; i++) {
		const struct addrmatch_pat *e = &p->pat[i];
		bool m = e->is_net ? net_contains(&e->net, family, addr)
				   : addrmatch_glob(e->glob, text);
		if (m && e->neg)
			return false;
		hit |= m;
	}
	return hit;
}
