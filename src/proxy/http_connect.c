/* HTTP CONNECT request and response-header parser. The parser keeps how far it has searched
 * for the blank line in the caller's struct, so a header that trickles in a byte at a time is
 * still scanned about once. */
#include "http_connect.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../xmalloc.h"

#define HTTP_PREFIX "HTTP/1."

/* Standard base64 with padding of in[0..n) into out (4 * ((n + 2) / 3) + 1 bytes). */
static void http_base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n) {
			v |= (uint32_t)in[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= in[i + 2];
		}
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

/* "Proxy-Authorization: Basic base64(user:pass)\r\n" (RFC 7617), xmalloc'd; the caller wipes
 * and frees it. */
static char *http_auth_header(const char *user, const char *pass, size_t *len)
{
	static const char head[] = "Proxy-Authorization: Basic ";
	size_t ulen = strlen(user), plen = pass ? strlen(pass) : 0;
	size_t clen = ulen + 1 + plen;
	uint8_t *cred = xmalloc(clen);
	size_t b64 = 4 * ((clen + 2) / 3);
	char *out = xmalloc(sizeof(head) - 1 + b64 + 3);

	memcpy(cred, user, ulen);
	cred[ulen] = ':';
	if (plen > 0) {
		memcpy(cred + ulen + 1, pass, plen);
	}
	memcpy(out, head, sizeof(head) - 1);
	http_base64(cred, clen, out + sizeof(head) - 1);
	freezero(cred, clen);
	*len = sizeof(head) - 1 + b64 + 2;
	memcpy(out + *len - 2, "\r\n", 3);
	return out;
}

char *http_connect_request(const char *host, uint16_t port, const char *user, const char *pass,
			   size_t *len)
{
	bool v6 = strchr(host, ':') != NULL && host[0] != '[';
	char authority[300];
	size_t alen = 0;
	char *auth = user ? http_auth_header(user, pass, &alen) : NULL;

	snprintf(authority, sizeof(authority), "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
		 port);
	/* CONNECT a HTTP/1.1\r\nHost: a\r\n<auth>\r\n */
	size_t n = 2 * strlen(authority) + alen + sizeof("CONNECT  HTTP/1.1\r\nHost: \r\n\r\n");
	char *req = xmalloc(n);
	int w = snprintf(req, n, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", authority, authority,
			 auth ? auth : "");
	if (auth) {
		freezero(auth, alen + 1);
	}
	*len = (size_t)w;
	return req;
}

/* Everything buffered so far must be a prefix of "HTTP/1.0" or "HTTP/1.1": a proxy speaking
 * something else is caught without waiting for a blank line that may never come. */
static bool http_prefix_ok(const uint8_t *in, size_t len)
{
	size_t n = len < sizeof(HTTP_PREFIX) - 1 ? len : sizeof(HTTP_PREFIX) - 1;

	if (memcmp(in, HTTP_PREFIX, n) != 0) {
		return false;
	}
	return len < 8 || in[7] == '0' || in[7] == '1';
}

/* "HTTP/1.x SP DDD [SP reason]" in in[0..eol), eol the offset of the line's '\n'. */
static int http_parse_status(const uint8_t *in, size_t eol, unsigned *status)
{
	unsigned s = 0;

	if (eol < 12 || in[8] != ' ') {
		return -EPROTO;
	}
	for (size_t i = 9; i < 12; i++) {
		if (in[i] < '0' || in[i] > '9') {
			return -EPROTO;
		}
		s = s * 10 + (unsigned)(in[i] - '0');
	}
	if (eol > 12 && in[12] != ' ' && in[12] != '\r') {
		return -EPROTO;
	}
	if (s < 100) {
		return -EPROTO;
	}
	*status = s;
	return 0;
}

/* The offset just after the blank line ending the header, or 0 when it is not buffered yet.
 * A blank line is "\n" or "\r\n" right after a '\n'. r->scanned remembers where to resume. */
static size_t http_find_end(struct http_connect_resp *r, const uint8_t *in, size_t len)
{
	size_t i;

	for (i = r->scanned; i < len; i++) {
		if (in[i] != '\n') {
			continue;
		}
		if (i + 1 < len && in[i + 1] == '\n') {
			return i + 2;
		}
		if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
			return i + 3;
		}
		if (i + 1 >= len || (in[i + 1] == '\r' && i + 2 >= len)) {
			break; /* undecided until more arrives: look at this '\n' again */
		}
	}
	r->scanned = i;
	return 0;
}

int http_connect_parse(struct http_connect_resp *r, const uint8_t *in, size_t len)
{
	if (!http_prefix_ok(in, len)) {
		return -EPROTO;
	}
	size_t end = http_find_end(r, in, len);
	if (end == 0) {
		return len >= HTTP_CONNECT_MAX_HEADER ? -EMSGSIZE : 0;
	}
	if (end > HTTP_CONNECT_MAX_HEADER) {
		return -EMSGSIZE;
	}
	const uint8_t *eol = memchr(in, '\n', end);
	if (http_parse_status(in, (size_t)(eol - in), &r->status) != 0) {
		return -EPROTO;
	}
	return (int)end;
}
