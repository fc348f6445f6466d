/* nginx's answers to HTTP requests (http_probe.h). The rules follow nginx 1.22's
 * ngx_http_parse_request_line / ngx_http_parse_header_line and the static module on an empty
 * root, checked byte for byte against Debian's nginx in tests/e2e/test_stealth.py. */
#include "http_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One line of p[0..n) from off: its end (the LF) or NULL when there is none yet. */
static const uint8_t *line_end(const uint8_t *p, size_t n, size_t off)
{
	return off < n ? memchr(p + off, '\n', n - off) : NULL;
}

static enum http_probe_result done(struct http_probe_req *req, unsigned status)
{
	req->status = status;
	if (status != 403 && status != 404 && status != 405)
		req->keep_alive = false;
	return HTTP_PROBE_DONE;
}

static bool is_method_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

static int hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Digits at p[*i..end): their value (capped at 1000), at least one; -1 if none. */
static int digits(const uint8_t *p, size_t end, size_t *i)
{
	int v = -1;

	while (*i < end && p[*i] >= '0' && p[*i] <= '9') {
		v = (v < 0 ? 0 : v) * 10 + (p[*i] - '0');
		if (v > 1000)
			v = 1000;
		(*i)++;
	}
	return v;
}

/* The path after percent-decoding, "." and ".." segments and repeated slashes: 0 for the
 * root itself, 1 for anything below it, -1 when invalid (a bad escape, a NUL, above the
 * root). */
static int path_kind(const uint8_t *p, size_t n)
{
	int depth = 0, segs = 0;
	size_t i = 0;

	while (i < n) {
		char seg[4];
		size_t sl = 0;
		while (i < n && p[i] == '/')
			i++;
		bool any = false;
		while (i < n && p[i] != '/' && p[i] != '?' && p[i] != '#') {
			uint8_t c = p[i++];
			if (c == '%') {
				int hi = i + 2 <= n ? hex(p[i]) : -1,
				    lo = hi >= 0 ? hex(p[i + 1]) : -1;
				if (lo < 0)
					return -1;
				c = (uint8_t)(hi << 4 | lo);
				i += 2;
				if (c == '/')
					c = 0x80; /* counts as a plain character for segments */
			}
			if (c == 0)
				return -1;
			if (sl < sizeof(seg))
				seg[sl] = (char)c;
			sl++;
			any = true;
		}
		if (i < n && (p[i] == '?' || p[i] == '#'))
			n = i; /* the query does not name a file */
		if (!any)
			continue;
		if (sl == 1 && seg[0] == '.')
			continue;
		if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
			if (--depth < 0)
				return -1;
			segs--;
			continue;
		}
		depth++;
		segs++;
	}
	return segs > 0 ? 1 : 0;
}

/* Request line: METHOD SP target [SP HTTP/x.y] (CR)LF. Returns MORE, DONE (an error or
 * HTTP/0.9), or sets *line_len and *path and returns -1 to go on with the headers. */
static int parse_request_line(const uint8_t *p, size_t n, struct http_probe_req *req,
			      size_t *line_len, int *path, unsigned *minor, bool *get)
{
	size_t i = 0, m;

	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++; /* nginx skips empty lines before a request */
	for (m = i; m < n && is_method_char(p[m]); m++)
		;
	if (m < n && (p[m] != ' ' || m == i))
		return done(req, 400);
	const uint8_t *eol = line_end(p, n, i);
	if (eol == NULL)
		return n - i > HTTP_PROBE_LINE_MAX ? done(req, 414) : HTTP_PROBE_MORE;
	size_t len = (size_t)(eol - p) + 1;
	if (len - i > HTTP_PROBE_LINE_MAX)
		return done(req, 414);
	size_t end = (size_t)(eol - p);
	if (end > i && p[end - 1] == '\r')
		end--;
	*get = m - i == 3 && memcmp(p + i, "GET", 3) == 0;
	req->head = m - i == 4 && memcmp(p + i, "HEAD", 4) == 0;
	bool post = m - i == 4 && memcmp(p + i, "POST", 4) == 0;
	size_t t = m;
	while (t < end && p[t] == ' ')
		t++;
	if (t >= end || p[t] != '/')
		return done(req, 400);
	size_t te = t;
	while (te < end && p[te] > ' ' && p[te] != 0x7f)
		te++;
	if (te < end && p[te] != ' ')
		return done(req, 400);
	*path = path_kind(p + t, te - t);
	if (!*get && !req->head && !post && *path >= 0)
		*path = 2; /* 405 */
	size_t v = te;
	while (v < end && p[v] == ' ')
		v++;
	*line_len = len;
	if (v == end) { /* HTTP/0.9 */
		req->http09 = true;
		req->consumed = len;
		return done(req, !*get || *path < 0 ? 400 : *path == 0 ? 403 : 404);
	}
	if (end - v < 8 || memcmp(p + v, "HTTP/", 5) != 0)
		return done(req, 400);
	size_t k = v + 5;
	int major = digits(p, end, &k), mi = -1;
	if (major >= 0 && k < end && p[k] == '.') {
		k++;
		mi = digits(p, end, &k);
	}
	if (mi < 0)
		return done(req, 400);
	*minor = (unsigned)mi;
	for (; k < end; k++) {
		if (p[k] != ' ')
			return done(req, 400);
	}
	if (major > 1)
		return done(req, 505);
	if (major == 0 || *minor > 99 || *path < 0)
		return done(req, 400); /* nginx checks the path with the line, before any header */
	return -1;
}

struct headers {
	bool host, close, keep_alive, te, chunked, te_other, cl, cl_bad;
	uint64_t cl_value;
	bool bad; /* refused as soon as the line is in (nginx's per-header checks) */
};

/* A Content-Length value as nginx's ngx_atoof reads it: digits only, at most INT64_MAX. */
static bool length_value(const uint8_t *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	for (size_t k = 0; k < n; k++) {
		if (v[k] < '0' || v[k] > '9' || x > (INT64_MAX - (uint64_t)(v[k] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(v[k] - '0');
	}
	*out = x;
	return n > 0;
}

static bool name_is(const uint8_t *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp((const char *)p, name, n) == 0;
}

/* One header line p[0..n) without its line end. */
static void header(const uint8_t *p, size_t n, struct headers *h)
{
	const uint8_t *colon = memchr(p, ':', n);

	if (colon == NULL || colon == p || p[0] == ' ' || p[0] == '\t') {
		h->bad = true;
		return;
	}
	size_t nl = (size_t)(colon - p), vo = nl + 1;
	while (vo < n && (p[vo] == ' ' || p[vo] == '\t'))
		vo++;
	size_t vl = n - vo;
	while (vl > 0 && (p[vo + vl - 1] == ' ' || p[vo + vl - 1] == '\t'))
		vl--;
	const uint8_t *v = p + vo;
	if (name_is(p, nl, "host")) {
		h->bad |= h->host || vl == 0 || memchr(v, '/', vl) != NULL;
		h->host = true;
	} else if (name_is(p, nl, "connection")) {
		h->close |= vl == 5 && strncasecmp((const char *)v, "close", 5) == 0;
		h->keep_alive |= vl == 10 && strncasecmp((const char *)v, "keep-alive", 10) == 0;
	} else if (name_is(p, nl, "content-length")) {
		h->bad |= h->cl;
		h->cl = true;
		h->cl_bad = !length_value(v, vl, &h->cl_value); /* refused after the headers */
	} else if (name_is(p, nl, "transfer-encoding")) {
		h->bad |= h->te;
		h->te = true;
		if (vl == 7 && strncasecmp((const char *)v, "chunked", 7) == 0)
			h->chunked = true;
		else
			h->te_other = true;
	}
}

/* Header lines up to the empty line. MORE, or DONE with an error, or -1 with h filled and
 * req->consumed set. */
static int parse_headers(const uint8_t *p, size_t n, size_t off, struct http_probe_req *req,
			 struct headers *h)
{
	size_t start = off;

	for (;;) {
		const uint8_t *eol = line_end(p, n, off);
		if (eol == NULL) {
			if (n - off > HTTP_PROBE_LINE_MAX || n - start > HTTP_PROBE_HEADERS_MAX)
				return done(req, HTTP_PROBE_HEADER_TOO_LARGE);
			return HTTP_PROBE_MORE;
		}
		size_t end = (size_t)(eol - p), len = end - off;
		if (len > HTTP_PROBE_LINE_MAX || end - start > HTTP_PROBE_HEADERS_MAX)
			return done(req, HTTP_PROBE_HEADER_TOO_LARGE);
		if (len > 0 && p[end - 1] == '\r')
			len--;
		if (memchr(p + off, 0, len) != NULL)
			return done(req, 400);
		if (len == 0) {
			req->consumed = end + 1;
			return -1;
		}
		header(p + off, len, h);
		if (h->bad)
			return done(req, 400);
		off = end + 1;
	}
}

enum http_probe_result http_probe_parse(const uint8_t *p, size_t n, struct http_probe_req *req)
{
	size_t line_len = 0;
	int path = 0, r;
	unsigned minor = 0;
	bool get = false;
	struct headers h;

	memset(req, 0, sizeof(*req));
	memset(&h, 0, sizeof(h));
	req->keep_alive = true;
	r = parse_request_line(p, n, req, &line_len, &path, &minor, &get);
	if (r != -1)
		return (enum http_probe_result)r;
	r = parse_headers(p, n, line_len, req, &h);
	if (r != -1)
		return (enum http_probe_result)r;
	req->keep_alive = minor >= 1 ? !h.close : h.keep_alive && !h.close;
	if ((minor >= 1 && !h.host) || h.cl_bad)
		return done(req, 400);
	req->body.left = h.cl_value; /* nginx drops the body with any answer from here on */
	if (h.te) {
		if (minor < 1 || (h.chunked && h.cl))
			return done(req, 400);
		if (h.te_other)
			return done(req, 501);
		req->body.chunked = true;
	}
	if (h.cl_value > HTTP_PROBE_BODY_MAX)
		return done(req, 413);
	return done(req, path == 2 ? 405 : path == 0 ? 403 : 404);
}

/* The chunked body syntax as nginx 1.22 reads it (ngx_http_parse_chunked): CRLF or a bare LF
 * ends each line, chunk extensions and trailer lines are skipped unread. */
enum chunk_state {
	CHUNK_START = 0, /* the first hex digit of a chunk size */
	CHUNK_SIZE,	 /* more hex digits */
	CHUNK_EXT,	 /* ";..." after a size */
	CHUNK_EXT_CR,
	CHUNK_DATA, /* body.left bytes of data */
	CHUNK_AFTER_DATA,
	CHUNK_AFTER_DATA_CR,
	CHUNK_LAST_EXT, /* after the size 0 */
	CHUNK_LAST_EXT_CR,
	CHUNK_TRAILER, /* a trailer line or the final empty line */
	CHUNK_TRAILER_CR,
	CHUNK_TRAILER_LINE,
	CHUNK_TRAILER_LINE_CR,
	CHUNK_END, /* the body is over */
	CHUNK_BAD,
};

/* nginx refuses a chunk size above NGX_MAX_OFF_T_VALUE / 16, checked before each byte. */
#define CHUNK_SIZE_MAX ((uint64_t)INT64_MAX / 16)

/* Per line state: the next state on CR, on LF, on any other byte. */
static const uint8_t chunk_next[][3] = {
	[CHUNK_EXT] = {CHUNK_EXT_CR, CHUNK_DATA, CHUNK_EXT},
	[CHUNK_EXT_CR] = {CHUNK_BAD, CHUNK_DATA, CHUNK_BAD},
	[CHUNK_AFTER_DATA] = {CHUNK_AFTER_DATA_CR, CHUNK_START, CHUNK_BAD},
	[CHUNK_AFTER_DATA_CR] = {CHUNK_BAD, CHUNK_START, CHUNK_BAD},
	[CHUNK_LAST_EXT] = {CHUNK_LAST_EXT_CR, CHUNK_TRAILER, CHUNK_LAST_EXT},
	[CHUNK_LAST_EXT_CR] = {CHUNK_BAD, CHUNK_TRAILER, CHUNK_BAD},
	[CHUNK_TRAILER] = {CHUNK_TRAILER_CR, CHUNK_END, CHUNK_TRAILER_LINE},
	[CHUNK_TRAILER_CR] = {CHUNK_BAD, CHUNK_END, CHUNK_BAD},
	[CHUNK_TRAILER_LINE] = {CHUNK_TRAILER_LINE_CR, CHUNK_TRAILER, CHUNK_TRAILER_LINE},
	[CHUNK_TRAILER_LINE_CR] = {CHUNK_BAD, CHUNK_TRAILER, CHUNK_BAD},
};

/* One byte of a chunk size line: a digit, or what ends the size. The next state. */
static uint8_t chunk_size_byte(struct http_probe_body *b, uint8_t c)
{
	int d = hex(c);
	bool last = b->left == 0;

	if (b->state == CHUNK_START) {
		if (d < 0)
			return CHUNK_BAD;
		b->left = (uint64_t)d;
		return CHUNK_SIZE;
	}
	if (b->left > CHUNK_SIZE_MAX)
		return CHUNK_BAD;
	if (d >= 0) {
		b->left = b->left * 16 + (uint64_t)d;
		return CHUNK_SIZE;
	}
	if (c == '\r')
		return last ? CHUNK_LAST_EXT_CR : CHUNK_EXT_CR;
	if (c == '\n')
		return last ? CHUNK_TRAILER : CHUNK_DATA;
	if (c == ';' || c == ' ' || c == '\t')
		return last ? CHUNK_LAST_EXT : CHUNK_EXT;
	return CHUNK_BAD;
}

/* A chunked body's bytes at p[0..n) up to its end; the count taken in *used. */
static enum http_probe_result chunked_drop(struct http_probe_body *b, const uint8_t *p, size_t n,
					   size_t *used)
{
	size_t i = 0;

	while (i < n && b->state != CHUNK_END && b->state != CHUNK_BAD) {
		if (b->state == CHUNK_DATA) {
			size_t k = b->left < n - i ? (size_t)b->left : n - i;
			i += k;
			b->left -= k;
			if (b->left == 0)
				b->state = CHUNK_AFTER_DATA;
			continue;
		}
		uint8_t c = p[i++];
		if (b->state <= CHUNK_SIZE)
			b->state = chunk_size_byte(b, c);
		else
			b->state = chunk_next[b->state][c == '\r' ? 0 : c == '\n' ? 1 : 2];
	}
	*used = i;
	if (b->state == CHUNK_END)
		return HTTP_PROBE_DONE;
	return b->state == CHUNK_BAD ? HTTP_PROBE_BAD : HTTP_PROBE_MORE;
}

enum http_probe_result http_probe_body_drop(struct http_probe_body *b, const uint8_t *p, size_t n,
					    size_t *used)
{
	if (b->chunked)
		return chunked_drop(b, p, n, used);
	*used = b->left < n ? (size_t)b->left : n;
	b->left -= *used;
	return b->left == 0 ? HTTP_PROBE_DONE : HTTP_PROBE_MORE;
}

void http_probe_to_https(struct http_probe_req *req)
{
	if (req->status == 403 || req->status == 404 || req->status == 405 || req->status == 413) {
		req->status = HTTP_PROBE_TO_HTTPS;
		req->keep_alive = false;
	}
}

static const char *reason(unsigned status)
{
	switch (status) {
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Not Allowed";
	case 413:
		return "Request Entity Too Large";
	case 414:
		return "Request-URI Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

/* nginx's error page (ngx_http_special_response.c). */
static int body(unsigned status, char *out, size_t outlen)
{
	const char *why =
		status == HTTP_PROBE_HEADER_TOO_LARGE ? "Request Header Or Cookie Too Large"
		: status == HTTP_PROBE_TO_HTTPS ? "The plain HTTP request was sent to HTTPS port"
						: NULL;

	if (why != NULL) /* the 400 pages of nginx's internal codes */
		return snprintf(
			out, outlen,
			"<html>\r\n<head><title>400 %s</title></head>\r\n<body>\r\n"
			"<center><h1>400 Bad Request</h1></center>\r\n<center>%s</center>\r\n"
			"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			why, why);
	return snprintf(out, outlen,
			"<html>\r\n<head><title>%u %s</title></head>\r\n<body>\r\n"
			"<center><h1>%u %s</h1></center>\r\n<hr><center>nginx</center>\r\n"
			"</body>\r\n</html>\r\n",
			status, reason(status), status, reason(status));
}

size_t http_probe_answer(const struct http_probe_req *req, time_t now, bool last, char *out)
{
	char page[512], date[64];
	struct tm tm;
	unsigned shown =
		req->status == HTTP_PROBE_HEADER_TOO_LARGE || req->status == HTTP_PROBE_TO_HTTPS
			? 400
			: req->status;
	int bl = body(req->status, page, sizeof(page));

	if (req->http09)
		return (size_t)snprintf(out, HTTP_PROBE_ANSWER_MAX, "%s", page);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int n = snprintf(out, HTTP_PROBE_ANSWER_MAX,
			 "HTTP/1.1 %u %s\r\nServer: nginx\r\nDate: %s\r\nContent-Type: "
			 "text/html\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s",
			 shown, reason(shown), date, bl, last ? "close" : "keep-alive",
			 req->head ? "" : page);
	return n > 0 && n < HTTP_PROBE_ANSWER_MAX ? (size_t)n : 0;
}
