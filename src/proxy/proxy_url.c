/* Proxy URLs: scheme, optional percent-encoded credentials, host and port. Error texts name
 * what is wrong and never quote the URL, so a password can't end up on the terminal. */
#include "proxy_url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../xmalloc.h"

void proxy_url_free(struct proxy_url *u)
{
	if (u == NULL) {
		return;
	}
	free(u->host);
	if (u->user) {
		freezero(u->user, strlen(u->user));
	}
	if (u->pass) {
		freezero(u->pass, strlen(u->pass));
	}
	free(u);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
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
		int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
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
		{"socks5://", PROXY_SOCKS5},
		{"socks5h://", PROXY_SOCKS5H},
		{"http://", PROXY_HTTP},
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

	if (n == 0) {
		return 0; /* "@host": no credentials */
	}
	u->user = pct_decode(s, ulen);
	if (u->user == NULL) {
		return -1;
	}
	if (colon) {
		u->pass = pct_decode(colon + 1, n - ulen - 1);
		if (u->pass == NULL) {
			return -1;
		}
	}
	return 0;
}

/* The port after the ':' (1..65535, optionally followed by one '/'), then the host copy. */
static int parse_port(const char *p, struct proxy_url *u, const char *host, size_t hlen, char *err,
		      size_t errlen)
{
	char *end;
	unsigned long port;

	errno = 0;
	port = strtoul(p, &end, 10);
	if (!isdigit((unsigned char)p[0]) || errno != 0 || port == 0 || port > 65535 ||
	    (*end != '\0' && strcmp(end, "/") != 0)) {
		snprintf(err, errlen, "proxy port must be a number from 1 to 65535");
		return -1;
	}
	u->host = xstrndup(host, hlen);
	u->port = (uint16_t)port;
	return 0;
}

/* A proxy host: a name or IPv4 address (letters, digits, '-', '.', '_'), or an IPv6 address
 * that came in brackets. */
static bool host_ok(const char *h, size_t n, bool bracketed)
{
	if (bracketed) {
		char tmp[INET6_ADDRSTRLEN];
		struct in6_addr a;
		if (n >= sizeof(tmp)) {
			return false;
		}
		memcpy(tmp, h, n);
		tmp[n] = '\0';
		return inet_pton(AF_INET6, tmp, &a) == 1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!isalnum((unsigned char)c) && c != '-' && c != '.' && c != '_') {
			return false;
		}
	}
	return n > 0 && n <= 253;
}

/* host:port or [v6]:port, optionally followed by a single '/'. */
static int parse_hostport(const char *s, struct proxy_url *u, char *err, size_t errlen)
{
	const char *host = s, *end, *colon;
	bool bracketed = *s == '[';

	if (bracketed) {
		host = s + 1;
		end = strchr(s, ']');
		if (end == NULL) {
			snprintf(err, errlen, "unclosed '[' in proxy host");
			return -1;
		}
		colon = end + 1;
	} else {
		colon = strchr(s, ':');
		end = colon ? colon : s + strcspn(s, "/");
		if (colon && strchr(colon + 1, ':')) {
			snprintf(err, errlen,
				 "an IPv6 proxy address must be in brackets: [addr]:port");
			return -1;
		}
	}
	if (end == host) {
		snprintf(err, errlen, "proxy URL has no host");
		return -1;
	}
	if (!host_ok(host, (size_t)(end - host), bracketed)) {
		snprintf(err, errlen, "proxy host is not a valid name or address");
		return -1;
	}
	if (colon == NULL || *colon != ':') {
		snprintf(err, errlen, "proxy URL needs a port (host:port)");
		return -1;
	}
	return parse_port(colon + 1, u, host, (size_t)(end - host), err, errlen);
}

/* What the scheme adds to the rules: RFC 1929 allows 1..255 bytes for the user name and up to
 * 255 for the password; HTTP Basic can't carry a ':' in the user name (RFC 7617). */
static int check_credentials(const struct proxy_url *u, char *err, size_t errlen)
{
	if (u->user == NULL) {
		return 0;
	}
	if (u->scheme == PROXY_HTTP) {
		if (strchr(u->user, ':') != NULL) {
			snprintf(err, errlen, "HTTP proxy user name must not contain ':'");
			return -1;
		}
		return 0;
	}
	if (u->user[0] == '\0' || strlen(u->user) > 255 || (u->pass && strlen(u->pass) > 255)) {
		snprintf(err, errlen,
			 "SOCKS5 proxy user name must be 1 to 255 bytes, password at "
			 "most 255");
		return -1;
	}
	return 0;
}

int proxy_url_parse(const char *s, struct proxy_url **out, char *err, size_t errlen)
{
	struct proxy_url *u = xcalloc(1, sizeof(*u));
	const char *rest;
	int ret = -EINVAL;

	if (parse_scheme(s, u, &rest) != 0) {
		snprintf(err, errlen,
			 "unknown proxy scheme (use socks5://, socks5h:// or http://)");
		goto out;
	}
	/* The last '@': an unescaped '@' or '/' in the password still works. */
	const char *at = strrchr(rest, '@');
	if (at && parse_userinfo(rest, (size_t)(at - rest), u) != 0) {
		snprintf(err, errlen, "bad %%-escape in proxy user or password");
		goto out;
	}
	if (parse_hostport(at ? at + 1 : rest, u, err, errlen) != 0 ||
	    check_credentials(u, err, errlen) != 0) {
		goto out;
	}
	*out = u;
	u = NULL;
	ret = 0;
out:
	proxy_url_free(u);
	return ret;
}

/* The user name percent-encoded again where it is not plain, so the line stays one line. */
static void describe_user(const char *user, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = user; *p != '\0' && o + 4 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || strchr("-._~", c) != NULL) {
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
		}
	}
	out[o] = '\0';
}

void proxy_url_describe(const struct proxy_url *u, char *out, size_t outlen)
{
	static const char *const names[] = {"", "socks5", "socks5h", "http"};
	bool v6 = strchr(u->host, ':') != NULL;
	char user[200] = "";

	if (u->user) {
		describe_user(u->user, user, sizeof(user));
	}
	snprintf(out, outlen, "%s://%s%s%s%s%s:%u", names[u->scheme], user, u->user ? "@" : "",
		 v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}
