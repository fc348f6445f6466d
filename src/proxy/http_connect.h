/* HTTP CONNECT (RFC 9110 §9.3.6) for the outbound proxy: the request we send, and a parser for
 * the proxy's response header. No sockets: the parser looks at what is buffered and reports a
 * complete header (its length), "need more" (0) or an error. */
#ifndef ALKNET_PROXY_HTTP_CONNECT_H
#define ALKNET_PROXY_HTTP_CONNECT_H

#include <stddef.h>
#include <stdint.h>

/* The response header, status line included, may not be longer than this. */
#define HTTP_CONNECT_MAX_HEADER 16384

struct http_connect_resp {
	unsigned status; /* 100..999, valid once the parser returned > 0 */
	size_t scanned;	 /* the parser's progress: zero it before the first call */
};

/* "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n[Proxy-Authorization: Basic ...\r\n]\r\n",
 * an IPv6 host in brackets. Credentials are sent when user is not NULL (pass NULL = empty).
 * Returns the request (xmalloc'd, owned by the caller, who wipes it with freezero() as it may
 * hold the password) and its length in *len. */
char *http_connect_request(const char *host, uint16_t port, const char *user, const char *pass,
			   size_t *len);

/* Looks at the response buffered so far (in[0..len), growing between calls, same r). Returns
 * the header length including the blank line (> 0): bytes after it are tunnel data. Returns 0
 * when more is needed, -EPROTO when it is not an HTTP/1.0 or HTTP/1.1 response, -EMSGSIZE
 * when the header exceeds HTTP_CONNECT_MAX_HEADER. Lines may end in CRLF or a bare LF. */
int http_connect_parse(struct http_connect_resp *r, const uint8_t *in, size_t len);

#endif
