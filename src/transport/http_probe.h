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

enum http_probe_result {
	HTTP_PROBE_MORE = 0, /* not a whole request yet, and nothing wrong so far */
	HTTP_PROBE_DONE = 1, /* *req says how to answer */
};

struct http_probe_req {
	unsigned status;	 /* 400, 403, 404, 405, 413, 414, 494, 501 or 505 */
	bool head;		 /* HEAD: headers only */
	bool http09;		 /* a request line without a version: the body only, then close */
	bool keep_alive;	 /* answer "Connection: keep-alive" and read the next request */
	bool chunked;		 /* a chunked body follows (the connection closes after) */
	size_t consumed;	 /* bytes of the request line and headers */
	unsigned long body_left; /* Content-Length bytes to skip before the next request */
};

/* Parses the request at p[0..n). HTTP_PROBE_MORE while it is incomplete and valid so far. */
enum http_probe_result http_probe_parse(const uint8_t *p, size_t n, struct http_probe_req *req);

/* nginx's answer to req at time now, into out (HTTP_PROBE_ANSWER_MAX bytes); last: the
 * connection closes after it (an error, Connection: close, or the keep-alive limit).
 * Returns its length. */
size_t http_probe_answer(const struct http_probe_req *req, time_t now, bool last, char *out);

#endif
