/* The forwarding policy's rule file and its matching (policy_rules.h). The file is the
 * operator's, but it is still parsed as hostile text: every length is bounded, every token
 * checked, and a mistake names its line and column. */
#include "policy_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrmatch.h"
#include "xmalloc.h"

struct pr_dest {
	bool is_net;
	char *glob; /* !is_net */
	struct addrmatch_net net;
	uint16_t lo, hi; /* ports, inclusive */
};

struct pr_rule {
	bool allow;
	char *principal; /* NULL: anyone */
	char *key_fp;	 /* NULL: any key */
	size_t n;
	struct pr_dest *dest;
};

struct policy_rules {
	size_t n;
	struct pr_rule *rule;
	bool default_allow;
	unsigned default_line; /* 0: no default line */
};

/* --deny-private: loopback, this-network/unspecified, RFC 1918, link-local (cloud metadata at
 * 169.254.169.254), CGNAT, multicast, reserved and broadcast; IPv6 loopback, unspecified and
 * IPv4-compatible, link- and site-local, ULA, multicast. IPv4-mapped IPv6 addresses are
 * matched as IPv4 (addrmatch), so ::ffff:127.0.0.1 is loopback too. */
static const char *const private_nets[] = {
	"0.0.0.0/8",	  "10.0.0.0/8",	   "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",  "192.168.0.0/16",
	"198.18.0.0/15",  "224.0.0.0/4",   "240.0.0.0/4",   "::/96",
	"fe80::/10",	  "fec0::/10",	   "fc00::/7",	    "ff00::/8",
};

/* The line being parsed: NUL-terminated copy, and where errors go. */
struct pr_line {
	char *s;
	unsigned line;
	struct policy_rules_error *err;
};

static int __attribute__((format(printf, 3, 4)))
pr_fail(struct pr_line *l, const char *at, const char *fmt, ...)
{
	va_list ap;

	l->err->line = l->line;
	l->err->col = (unsigned)(at - l->s) + 1;
	va_start(ap, fmt);
	vsnprintf(l->err->msg, sizeof(l->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char *skip_blanks(char *p)
{
	return p + strspn(p, " \t");
}

/* The next blank-separated word at *p (NUL-terminated in place); *p moves past it. NULL at
 * the end of the line. */
static char *next_word(char **p)
{
	char *w = skip_blanks(*p);

	if (*w == '\0')
		return NULL;
	char *e = w + strcspn(w, " \t");
	*p = e;
	if (*e != '\0') {
		*e = '\0';
		*p = e + 1;
	}
	return w;
}

static int parse_num(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "*", "N" or "N-M" within 1..65535. */
static int parse_ports(struct pr_line *l, const char *s, struct pr_dest *d)
{
	const char *dash = strchr(s, '-');
	unsigned lo, hi;

	if (strcmp(s, "*") == 0) {
		d->lo = 0;
		d->hi = 65535;
		return 0;
	}
	size_t n = dash ? (size_t)(dash - s) : strlen(s);
	if (parse_num(s, n, &lo) != 0)
		return pr_fail(l, s, "bad port: want *, N or N-M");
	hi = lo;
	if (dash != NULL && parse_num(dash + 1, strlen(dash + 1), &hi) != 0)
		return pr_fail(l, dash + 1, "bad port: want *, N or N-M");
	if (lo < 1 || hi > 65535 || lo > hi)
		return pr_fail(l, s, "bad port range: want 1-65535, low to high");
	d->lo = (uint16_t)lo;
	d->hi = (uint16_t)hi;
	return 0;
}

/* An address or network; its text at `at` for the column. */
static int parse_net(struct pr_line *l, const char *at, const char *s, struct pr_dest *d)
{
	char why[96];

	if (addrmatch_parse_net(s, &d->net, why, sizeof(why)) != 0)
		return pr_fail(l, at, "bad address: %s", why);
	d->is_net = true;
	return 0;
}

/* A name glob: letters, digits, '-', '.', '_', '*', '?'; numeric-looking text must be an
 * address (a typo must not become a glob that never matches). */
static int parse_host(struct pr_line *l, char *s, struct pr_dest *d)
{
	size_t n = strlen(s);

	if (n == 0)
		return pr_fail(l, s, "missing host");
	if (strspn(s, "0123456789./") == n)
		return parse_net(l, s, s, d);
	if (n > POLICY_MAX_HOST ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*?") != n)
		return pr_fail(l, s, "bad host pattern: letters, digits, - . _ * ? only");
	d->glob = xstrdup(s);
	return 0;
}

/* HOST, HOST:PORTS, IPV6[/N], [IPV6[/N]]:PORTS (s NUL-terminated, no blanks). */
static int parse_dest(struct pr_line *l, char *s, struct pr_dest *d)
{
	char *colon;

	d->lo = 0;
	d->hi = 65535;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL)
			return pr_fail(l, s, "missing ]");
		*close = '\0';
		if (close[1] != '\0' && close[1] != ':')
			return pr_fail(l, close + 1, "expected :PORT after ]");
		if (parse_net(l, s + 1, s + 1, d) != 0)
			return -EINVAL;
		return close[1] == ':' ? parse_ports(l, close + 2, d) : 0;
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL)
		return parse_net(l, s, s, d); /* bare IPv6: any port */
	if (colon != NULL)
		*colon = '\0';
	if (parse_host(l, s, d) != 0)
		return -EINVAL;
	return colon != NULL ? parse_ports(l, colon + 1, d) : 0;
}

/* "DEST, DEST ..." to the end of the line. */
static int parse_dests(struct pr_line *l, char *p, struct pr_rule *r)
{
	size_t n = 1;

	for (const char *c = p; *c; c++)
		n += *c == ',';
	r->dest = xcalloc(n, sizeof(*r->dest));
	for (;;) {
		char *e = p + strcspn(p, ",");
		bool last = *e == '\0';
		*e = '\0';
		p = skip_blanks(p);
		char *end = p + strcspn(p, " \t");
		if (*skip_blanks(end) != '\0')
			return pr_fail(l, skip_blanks(end), "expected , between destinations");
		*end = '\0';
		if (*p == '\0')
			return pr_fail(l, p, "missing destination");
		/* counted before parsing: a glob made before a bad port is freed with the rule */
		if (parse_dest(l, p, &r->dest[r->n++]) != 0)
			return -EINVAL;
		if (last)
			return 0;
		p = e + 1;
	}
}

/* principal NAME / key SHA256:... before `to`. */
static int parse_subject(struct pr_line *l, char **p, const char *w, struct pr_rule *r)
{
	bool key = strcmp(w, "key") == 0;
	char *v = next_word(p);

	if (v == NULL)
		return pr_fail(l, w, "%s needs a value", w);
	if ((key ? r->key_fp : r->principal) != NULL)
		return pr_fail(l, w, "%s given twice", w);
	if (key &&
	    (strncmp(v, "SHA256:", 7) != 0 || strlen(v) < 8 ||
	     strspn(v + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") !=
		     strlen(v + 7)))
		return pr_fail(l, v, "key wants a fingerprint SHA256:... (ssh-keygen -lf)");
	for (const char *c = v; *c; c++) {
		if ((unsigned char)*c < 0x21 || *c == 0x7f)
			return pr_fail(l, c, "bad character");
	}
	if (key)
		r->key_fp = xstrdup(v);
	else
		r->principal = xstrdup(v);
	return 0;
}

static void rule_clear(struct pr_rule *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->dest[i].glob);
	free(r->dest);
	free(r->principal);
	free(r->key_fp);
	memset(r, 0, sizeof(*r));
}

/* allow|deny [principal NAME] [key FP] to DEST, ... */
static int parse_rule(struct pr_line *l, char *p, bool allow, struct policy_rules *pr)
{
	struct pr_rule r = {.allow = allow};
	char *w;
	int ret = -EINVAL;

	if (pr->n == POLICY_RULES_MAX) {
		pr_fail(l, l->s, "more than %d rules", POLICY_RULES_MAX);
		goto out;
	}
	while ((w = next_word(&p)) != NULL && strcmp(w, "to") != 0) {
		if (strcmp(w, "principal") != 0 && strcmp(w, "key") != 0) {
			pr_fail(l, w, "expected principal, key or to");
			goto out;
		}
		if (parse_subject(l, &p, w, &r) != 0)
			goto out;
	}
	if (w == NULL) {
		pr_fail(l, l->s + strlen(l->s), "missing: to DESTINATION");
		goto out;
	}
	if (parse_dests(l, p, &r) != 0)
		goto out;
	pr->rule = xrealloc(pr->rule, (pr->n + 1) * sizeof(*pr->rule));
	pr->rule[pr->n++] = r;
	memset(&r, 0, sizeof(r));
	ret = 0;
out:
	rule_clear(&r);
	return ret;
}

static int parse_default(struct pr_line *l, char *p, struct policy_rules *pr)
{
	char *w = next_word(&p);

	if (w == NULL || (strcmp(w, "allow") != 0 && strcmp(w, "deny") != 0))
		return pr_fail(l, w ? w : p, "default wants allow or deny");
	if (pr->default_line != 0)
		return pr_fail(l, w, "default given twice (first on line %u)", pr->default_line);
	pr->default_allow = strcmp(w, "allow") == 0;
	pr->default_line = l->line;
	if ((w = next_word(&p)) != NULL)
		return pr_fail(l, w, "unexpected text after default");
	return 0;
}

/* One line (NUL-terminated copy): blank, a # comment, a rule or the default. */
static int parse_line(struct pr_line *l, struct policy_rules *pr)
{
	char *p = l->s;

	for (char *c = p; *c; c++) {
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return pr_fail(l, c, "control character");
		if (*c == '#' && (c == p || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	}
	char *w = next_word(&p);
	if (w == NULL)
		return 0;
	if (strcmp(w, "default") == 0)
		return parse_default(l, p, pr);
	if (strcmp(w, "allow") == 0 || strcmp(w, "deny") == 0)
		return parse_rule(l, p, strcmp(w, "allow") == 0, pr);
	return pr_fail(l, w, "expected allow, deny or default");
}

static void add_private(struct policy_rules *pr)
{
	size_t n = sizeof(private_nets) / sizeof(private_nets[0]);
	struct pr_rule r = {.allow = false, .n = n, .dest = xcalloc(n, sizeof(struct pr_dest))};

	for (size_t i = 0; i < n; i++) {
		r.dest[i].is_net = true;
		r.dest[i].hi = 65535;
		if (addrmatch_parse_net(private_nets[i], &r.dest[i].net, NULL, 0) != 0)
			abort(); /* the table above is wrong */
	}
	pr->rule = xrealloc(pr->rule, (pr->n + 1) * sizeof(*pr->rule));
	pr->rule[pr->n++] = r;
}

int policy_rules_parse(const char *text, size_t len, bool deny_private, struct policy_rules **out,
		       struct policy_rules_error *err)
{
	struct policy_rules *pr = xcalloc(1, sizeof(*pr));
	struct pr_line l = {.err = err};
	size_t off = 0;

	pr->default_allow = true;
	memset(err, 0, sizeof(*err));
	while (text != NULL && off < len) {
		const char *p = text + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;
		off += n + (nl != NULL);
		l.line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > POLICY_RULES_LINE_MAX || memchr(p, '\0', n) != NULL) {
			l.s = (char *)p;
			pr_fail(&l, p, n > POLICY_RULES_LINE_MAX ? "line too long" : "NUL byte");
			goto fail;
		}
		l.s = xstrndup(p, n);
		int ret = parse_line(&l, pr);
		free(l.s);
		if (ret != 0)
			goto fail;
	}
	if (deny_private)
		add_private(pr);
	*out = pr;
	return 0;
fail:
	policy_rules_free(pr);
	return -EINVAL;
}

void policy_rules_free(struct policy_rules *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		rule_clear(&p->rule[i]);
	free(p->rule);
	free(p);
}

size_t policy_rules_count(const struct policy_rules *p)
{
	return p ? p->n : 0;
}

static bool who_matches(const struct pr_rule *r, const struct policy_subject *who)
{
	if (r->key_fp != NULL &&
	    (who == NULL || who->key_fp == NULL || strcmp(r->key_fp, who->key_fp) != 0))
		return false;
	if (r->principal == NULL)
		return true;
	for (size_t i = 0; who && who->principals && who->principals[i]; i++) {
		if (strcmp(who->principals[i], r->principal) == 0)
			return true;
	}
	return false;
}

/* The first rule for (name, addr, port) decides. addr NULL: not known (yet); a network rule
 * that could match then makes an allow rule DEPENDS, and a deny rule is passed over (the
 * address check will apply it). */
static enum policy_rules_verdict evaluate(const struct policy_rules *p,
					  const struct policy_subject *who, const char *name,
					  uint16_t port, const struct sockaddr_storage *addr,
					  bool names_only)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct pr_rule *r = &p->rule[i];
		bool hit = false, depends = false;
		if (!who_matches(r, who))
			continue;
		for (size_t j = 0; j < r->n && !hit; j++) {
			const struct pr_dest *d = &r->dest[j];
			if (port < d->lo || port > d->hi)
				continue;
			if (!d->is_net)
				hit = addrmatch_glob(d->glob, name);
			else if (addr != NULL)
				hit = addrmatch_net_match(&d->net, addr);
			else
				depends = true;
		}
		if (hit)
			return r->allow ? POLICY_RULES_ALLOW : POLICY_RULES_DENY;
		if (depends && r->allow && !names_only)
			return POLICY_RULES_DEPENDS;
	}
	return p->default_allow ? POLICY_RULES_ALLOW : POLICY_RULES_DENY;
}

/* The host for globs: without one trailing dot ("a.example.com." is the same name). False
 * when it does not fit (longer than a DNS name). */
static bool glob_name(const char *host, char out[POLICY_MAX_HOST + 1])
{
	size_t n = strlen(host);

	if (n > POLICY_MAX_HOST)
		return false;
	memcpy(out, host, n + 1);
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
	return true;
}

/* An IP literal host (inet_pton's strict forms only) as an address. */
static bool literal_addr(const char *host, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

enum policy_rules_verdict policy_rules_name(const struct policy_rules *p,
					    const struct policy_subject *who, const char *host,
					    uint16_t port, bool names_only)
{
	char name[POLICY_MAX_HOST + 1];
	struct sockaddr_storage ss;

	if (p == NULL)
		return POLICY_RULES_ALLOW;
	if (!glob_name(host, name))
		return POLICY_RULES_DENY;
	bool lit = literal_addr(host, &ss);
	return evaluate(p, who, name, port, lit ? &ss : NULL, names_only);
}

bool policy_rules_addr(const struct policy_rules *p, const struct policy_subject *who,
		       const char *host, uint16_t port, const struct sockaddr *sa)
{
	char name[POLICY_MAX_HOST + 1];
	struct sockaddr_storage ss;

	if (p == NULL)
		return true;
	if (!glob_name(host, name) || sa == NULL ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return false;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa,
	       sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	return evaluate(p, who, name, port, &ss, false) == POLICY_RULES_ALLOW;
}
