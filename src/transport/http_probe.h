/* What Debian 12's nginx 1.22 (server_tokens off, an empty document root, default limits)
 * answers to an HTTP request, for --stealth: a pure parser of one request and the answer's
 * bytes. No I/O; the stealth transport (stealth.c) feeds it and sends what it says. */
#ifndef ALKNET_HTTP_PROBE_H
#define ALKNET_HTTP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* nginx's large_client_header_buffers 4 8k and keepalive_requests 1000. */
#define HTTP_PROBE_LINE_MAX	8192
#define HTTP_PROBE_HEADERS_MAX	(4 * 8192)
#define HTTP_PROBE_REQUESTS_MAX 1000
#define HTTP_PROBE_BODY_MAX	(1024 * 1024) /* client_max_body_size 1m */
#define HTTP_PROBE_ANSWER_MAX	1024

/* nginx's internal code for "request header too large": answered as 400 with its own body. */
#define HTTP_PROBE_HEADER_TOO_LARGE 494
/* nginx's internal code for a plain HTTP request on its TLS port: 400 with its own body. */
#define HTTP_PROBE_TO_HTTPS 497

enum http_probe_result {
	HTTP_PROBE_MORE = 0, /* not a whole request (or body) yet, and nothing wrong so far */
	HTTP_PROBE_DONE = 1, /* *req says how to answer; a body: it is over */
	HTTP_PROBE_BAD = 2,  /* a body: an invalid chunked one (nginx closes) */
};

/* A request body that nginx reads and drops around its answer (ngx_http_discard_request_body):
 * what a Content-Length still promises, or a chunked body up to its last chunk and trailer. */
struct http_probe_body {
	bool chunked;
	uint8_t state; /* chunked: where in the chunk syntax (http_probe.c) */
	uint64_t left; /* bytes to drop: of the Content-Length, or of the current chunk */
};

struct http_probe_req {
	unsigned status; /* 400, 403, 404, 405, 413, 414, 494, 497, 501 or 505 */
	bool head;	 /* HEAD: headers only */
	bool http09;	 /* a request line without a version: the body only, then close */
	bool keep_alive; /* answer "Connection: keep-alive" and read the next request */
	size_t consumed; /* bytes of the request line and headers */
	/* The body to drop before the next request; none: left 0 and not chunked. */
	struct http_probe_body body;
};

/* Parses the request at p[0..n). HTTP_PROBE_MORE while it is incomplete and valid so far. */
enum http_probe_result http_probe_parse(const uint8_t *p, size_t n, struct http_probe_req *req);

/* Drops body bytes from p[0..n) and sets *used to how many were the body's. DONE once the body
 * is over (at once when there is none), MORE while it wants more, BAD for an invalid chunk. */
enum http_probe_result http_probe_body_drop(struct http_probe_body *b, const uint8_t *p, size_t n,
					    size_t *used);

/* The same request sent as plain HTTP to nginx's TLS port: what got as far as nginx's request
 * processing (403, 404, 405, 413) becomes 497, answered with "Connection: close"; the errors
 * found while the request line and headers were read stay as they are. */
void http_probe_to_https(struct http_probe_req *req);

/* nginx's answer to req at time now, into out (HTTP_PROBE_ANSWER_MAX bytes); last: the
 * connection closes after it (an error, Connection: close, or the keep-alive limit).
 * Returns its length. */
size_t http_probe_answer(const struct http_probe_req *req, time_t now, bool last, char *out);

#endif
