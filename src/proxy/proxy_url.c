#include "proxy_url.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../xmalloc.h"

void proxy_url_free(struct proxy_url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->user);
	if (u->pass)
		freezero(u->pass, strlen(u->pass));
	free(u);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or an encoded NUL. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		int hi = i + 2 < n + 1 && i + 1 < n ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			freezero(out, n + 1);
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static int parse_scheme(const char *s, struct proxy_url *u, const char **rest)
{
	static const struct {
		const char *prefix;
		enum proxy_scheme scheme;
	} schemes[] = {
		{ "socks5://", PROXY_SOCKS5 },
		{ "socks5h://", PROXY_SOCKS5H },
		{ "http://", PROXY_HTTP },
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);
		if (strncasecmp(s, schemes[i].prefix, n) == 0) {
			u->scheme = schemes[i].scheme;
			*rest = s + n;
			return 0;
		}
	}
	return -1;
}

/* user[:pass]@ before the host, percent-decoded. */
static int parse_userinfo(const char *s, size_t n, struct proxy_url *u)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;

	u->user = pct_decode(s, ulen);
	if (u->user == NULL)
		return -1;
	if (colon) {
		u->pass = pct_decode(colon + 1, n - ulen - 1);
		if (u->pass == NULL)
			return -1;
	}
	return 0;
}

static int parse_hostport(const char *s, struct proxy_url *u, char *err, size_t errlen)
{
	const char *host = s, *end, *colon;

	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL) {
			snprintf(err, errlen, "unclosed '[' in proxy host");
			return -1;
		}
		host = s + 1;
		colon = end + 1;
		if (*colon != ':') {
			snprintf(err, errlen, "proxy URL needs a port (host:port)");
			return -1;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "proxy URL needs a port (host:port)");
			return -1;
		}
		end = colon;
	}
	if (end == host) {
		snprintf(err, errlen, "proxy URL has no host");
		return -1;
	}
	char *p;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &p, 10);
	if (colon[1] == '\0' || colon[1] == '-' || colon[1] == '+' || errno || port == 0 ||
	    port > 65535 || (*p != '\0' && strcmp(p, "/") != 0)) {
		snprintf(err, errlen, "proxy port must be a number from 1 to 65535");
		return -1;
	}
	u->host = xstrndup(host, (size_t)(end - host));
	u->port = (uint16_t)port;
	return 0;
}

int proxy_url_parse(const char *s, struct proxy_url **out, char *err, size_t errlen)
{
	struct proxy_url *u = xcalloc(1, sizeof(*u));
	const char *rest;
	int ret = -EINVAL;

	if (parse_scheme(s, u, &rest) != 0) {
		snprintf(err, errlen, "unknown proxy scheme (use socks5://, socks5h:// or http://)");
		goto out;
	}
	const char *at = strrchr(rest, '@');
	if (at && parse_userinfo(rest, (size_t)(at - rest), u) != 0) {
		snprintf(err, errlen, "bad %%-escape in proxy user or password");
		goto out;
	}
	if (parse_hostport(at ? at + 1 : rest, u, err, errlen) != 0)
		goto out;
	*out = u;
	u = NULL;
	ret = 0;
out:
	proxy_url_free(u);
	return ret;
}

void proxy_url_describe(const struct proxy_url *u, char *out, size_t outlen)
{
	static const char *const names[] = { "", "socks5", "socks5h", "http" };
	bool v6 = strchr(u->host, ':') != NULL;

	snprintf(out, outlen, "%s://%s%s%s%s%s:%u", names[u->scheme], u->user ? u->user : "",
		 u->user ? "@" : "", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}
