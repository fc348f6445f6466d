/* authorized_keys options (authkeys_options.h), after OpenSSH's auth-options.c
 * sshauthopt_parse: flags and name="value" pairs, the last flag winning ("restrict,
 * port-forwarding" forwards), several permitopen, at most one from= and principals=, the
 * earliest expiry-time. Every byte is the file's, so every length and character is checked. */
#include "authkeys_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../addrmatch.h"
#include "../xmalloc.h"

#define OPTS_HOST_MAX 1024 /* OpenSSH: NI_MAXHOST */

/* Options that are fine on a tunnel server's key and grant nothing: values are checked only
 * for their quoting. */
static const char *const inert_values[] = {"command", "environment", "tunnel", "permitlisten"};
static const char *const inert_flags[] = {"pty",
					  "user-rc",
					  "x11-forwarding",
					  "agent-forwarding",
					  "touch-required",
					  "verify-required"};

struct opt_cursor {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int opt_fail(struct opt_cursor *c, const char *why)
{
	if (c->errlen > 0)
		snprintf(c->err, c->errlen, "%s", why);
	return -EINVAL;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static bool in_list(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (name_is(name, len, list[i]))
			return true;
	}
	return false;
}

/* OpenSSH's opt_dequote: "...", where only \" is an escape. Returns the value (xmalloc'd)
 * and moves past the closing quote, or NULL. */
static char *opt_dequote(struct opt_cursor *c)
{
	if (c->p >= c->end || *c->p != '"') {
		opt_fail(c, "missing start quote");
		return NULL;
	}
	char *v = xmalloc((size_t)(c->end - c->p));
	size_t i = 0;
	for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
		if (c->p[0] == '\\' && c->p + 1 < c->end && c->p[1] == '"')
			c->p++;
		v[i++] = *c->p;
	}
	if (c->p >= c->end) {
		free(v);
		opt_fail(c, "missing end quote");
		return NULL;
	}
	c->p++;
	v[i] = '\0';
	if (strlen(v) != i) {
		free(v);
		opt_fail(c, "NUL in option value");
		return NULL;
	}
	return v;
}

/* "*" or 1..65535 in decimal (OpenSSH's a2port). */
static int parse_port(const char *s, int *out)
{
	long v = 0;

	if (strcmp(s, "*") == 0) {
		*out = POLICY_ANY_PORT;
		return 0;
	}
	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

/* permitopen="host:port", "[v6]:port", host or port "*"; OpenSSH's hpdelim2 also takes '/'
 * between them. */
static int add_permitopen(struct authkeys_opts *o, char *v)
{
	char *host = v, *port;

	if (*v == '[') {
		char *close = strchr(v, ']');
		if (close == NULL || (close[1] != ':' && close[1] != '/'))
			return -1;
		*close = '\0';
		host = v + 1;
		port = close + 2;
	} else {
		port = strpbrk(v, ":/");
		if (port == NULL)
			return -1;
		*port++ = '\0';
	}
	size_t hl = strlen(host);
	if (hl == 0 || hl >= OPTS_HOST_MAX)
		return -1;
	for (const char *p = host; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -1;
	}
	int pn;
	if (parse_port(port, &pn) != 0)
		return -1;
	struct policy_permits *pm = &o->permits;
	pm->open = xrealloc(pm->open, (pm->n_open + 1) * sizeof(*pm->open));
	pm->open[pm->n_open].host = xstrdup(host);
	pm->open[pm->n_open].port = pn;
	pm->n_open++;
	return 0;
}

/* principals="a,b,c" as a NULL-terminated array; names are compared exactly (part A). */
static char **split_principals(const char *v)
{
	size_t n = 1, i = 0;

	for (const char *p = v; *p; p++)
		n += *p == ',';
	char **out = xcalloc(n + 1, sizeof(*out));
	for (const char *p = v;; p++) {
		size_t len = strcspn(p, ",");
		out[i++] = xstrndup(p, len);
		p += len;
		if (*p == '\0')
			break;
	}
	return out;
}

static bool valid_date(int y, int mo, int d, int h, int mi, int s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59)
		return false;
	return d <= mdays[mo - 1] && !(mo == 2 && d == 29 && !leap);
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int authkeys_parse_time(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	bool utc = n > 1 && (s[n - 1] == 'Z' || s[n - 1] == 'z');

	n -= utc;
	if ((n != 8 && n != 12 && n != 14) || strspn(s, "0123456789") != n)
		return -EINVAL;
	struct tm tm = {
		.tm_year = digits(s, 4) - 1900,
		.tm_mon = digits(s + 4, 2) - 1,
		.tm_mday = digits(s + 6, 2),
		.tm_hour = n >= 12 ? digits(s + 8, 2) : 0,
		.tm_min = n >= 12 ? digits(s + 10, 2) : 0,
		.tm_sec = n == 14 ? digits(s + 12, 2) : 0,
		.tm_isdst = -1,
	};
	if (!valid_date(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			tm.tm_sec))
		return -EINVAL;
	time_t t = utc ? timegm(&tm) : mktime(&tm);
	if (t <= 0)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

/* name="value" options with a meaning here. Takes v over. Returns 0, 1 (not one of these),
 * or -EINVAL. */
static int value_option(struct opt_cursor *c, struct authkeys_opts *o, const char *name, size_t len,
			char *v)
{
	char why[96];
	int64_t t;
	int ret = 0;

	if (name_is(name, len, "permitopen")) {
		if (add_permitopen(o, v) != 0)
			ret = opt_fail(c,
				       "invalid permitopen (want host:port, [v6]:port, * allowed)");
	} else if (name_is(name, len, "from")) {
		if (o->from != NULL)
			ret = opt_fail(c, "multiple from= options");
		else if (addrmatch_parse_patterns(v, &o->from, why, sizeof(why)) != 0)
			ret = opt_fail(c, "invalid from= pattern list");
	} else if (name_is(name, len, "expiry-time")) {
		if (authkeys_parse_time(v, &t) != 0)
			ret = opt_fail(c, "invalid expiry-time (want YYYYMMDD[HHMM[SS]][Z])");
		else if (o->expiry == 0 || t < o->expiry)
			o->expiry = t;
	} else if (name_is(name, len, "principals")) {
		if (o->principals != NULL)
			ret = opt_fail(c, "multiple principals= options");
		else
			o->principals = split_principals(v);
	} else if (!in_list(name, len, inert_values,
			    sizeof(inert_values) / sizeof(*inert_values))) {
		ret = 1;
	}
	free(v);
	return ret;
}

/* A flag, optionally "no-" prefixed where OpenSSH allows it. 0, or 1 when unknown. */
static int flag_option(struct authkeys_opts *o, const char *name, size_t len)
{
	bool no = len > 3 && strncasecmp(name, "no-", 3) == 0;
	const char *base = no ? name + 3 : name;
	size_t bl = no ? len - 3 : len;

	if (!no && name_is(name, len, "restrict")) {
		o->permits.forwarding = false;
	} else if (!no && name_is(name, len, "cert-authority")) {
		o->cert_authority = true;
	} else if (name_is(base, bl, "port-forwarding")) {
		o->permits.forwarding = !no;
	} else if (!in_list(base, bl, inert_flags, sizeof(inert_flags) / sizeof(*inert_flags)) ||
		   (no && name_is(base, bl, "verify-required"))) {
		return 1;
	}
	return 0;
}

/* One option at c->p; moves past it and its comma. */
static int parse_one(struct opt_cursor *c, struct authkeys_opts *o)
{
	const char *name = c->p;
	size_t len = 0;
	int ret;

	while (name + len < c->end && name[len] != '=' && name[len] != ',')
		len++;
	if (len == 0)
		return opt_fail(c, "empty option");
	c->p = name + len;
	if (c->p < c->end && *c->p == '=') {
		c->p++;
		char *v = opt_dequote(c);
		if (v == NULL)
			return -EINVAL;
		ret = value_option(c, o, name, len, v);
	} else {
		ret = flag_option(o, name, len);
	}
	if (ret == 1)
		return opt_fail(c, "unknown or misused option");
	if (ret != 0)
		return ret;
	if (c->p < c->end && *c->p != ',')
		return opt_fail(c, "unexpected characters after an option");
	if (c->p < c->end && ++c->p == c->end)
		return opt_fail(c, "option list ends with a comma");
	return 0;
}

int authkeys_options_parse(const char *s, size_t n, struct authkeys_opts *out, char *err,
			   size_t errlen)
{
	struct opt_cursor c = {.p = s, .end = s + n, .err = err, .errlen = errlen};

	memset(out, 0, sizeof(*out));
	out->permits.forwarding = true;
	if (n == 0)
		return 0;
	while (c.p < c.end) {
		int ret = parse_one(&c, out);
		if (ret != 0)
			return ret;
	}
	return 0;
}

void authkeys_options_free(struct authkeys_opts *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; o->principals && o->principals[i]; i++)
		free(o->principals[i]);
	free(o->principals);
	o->principals = NULL;
	addrmatch_patterns_free(o->from);
	o->from = NULL;
	policy_permits_clear(&o->permits);
}
