/* The PROXY protocol header (proxy_header.h): the parser, then the transport that reads it. */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../loop.h"
#include "../xmalloc.h"
#include "tcp.h"

static const uint8_t v1_sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

enum {
	V2_FIXED = 16, /* signature, version/command, family/protocol, length */
	V2_CMD_LOCAL = 0,
	V2_CMD_PROXY = 1,
	V2_AF_UNSPEC = 0,
	V2_AF_INET = 1,
	V2_AF_INET6 = 2,
	V2_AF_UNIX = 3,
	V2_PROTO_UNSPEC = 0,
	V2_PROTO_STREAM = 1,
	V2_PROTO_DGRAM = 2,
	V2_TLV_CRC32C = 0x03,
};

static enum proxy_header_status fail(struct proxy_header *out, const char *why)
{
	out->error = why;
	return PROXY_HEADER_ERROR;
}

/* Whether the len bytes at p agree with the first len bytes of sig (len <= n). */
static bool prefix_matches(const uint8_t *p, size_t len, const uint8_t *sig, size_t n)
{
	return memcmp(p, sig, len < n ? len : n) == 0;
}

/* A v1 port: decimal 0..65535, no heading zero. */
static bool v1_port(const char *s, uint16_t *out)
{
	size_t n = strlen(s);
	unsigned long v = 0;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1) || strspn(s, "0123456789") != n)
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* One v1 address and port into ss (family AF_INET or AF_INET6). inet_pton takes exactly four
 * decimal parts without heading zeroes for IPv4, as the specification asks. */
static bool v1_addr(int family, const char *addr, const char *port, struct sockaddr_storage *ss)
{
	uint16_t p;

	memset(ss, 0, sizeof(*ss));
	if (!v1_port(port, &p))
		return false;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(p);
		return inet_pton(AF_INET, addr, &s4->sin_addr) == 1;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(p);
	return strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1;
}

/* The fields of a whole v1 line (CRLF cut off, NUL-terminated, printable): "PROXY" and the
 * protocol, then for TCP4/TCP6 exactly four more, each separated by exactly one space. */
static enum proxy_header_status v1_fields(char *line, struct proxy_header *out)
{
	char *field[7];
	size_t n = 0;

	for (char *p = line; n < 7; n++) {
		field[n] = p;
		p = strchr(p, ' ');
		if (p == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (n >= 2 && strcmp(field[1], "UNKNOWN") == 0) {
		out->local = true; /* the rest of the line is to be ignored */
		return PROXY_HEADER_DONE;
	}
	int family = n >= 2 && strcmp(field[1], "TCP4") == 0   ? AF_INET
		     : n >= 2 && strcmp(field[1], "TCP6") == 0 ? AF_INET6
							       : 0;
	if (family == 0)
		return fail(out, "v1: unknown protocol");
	if (n != 6)
		return fail(out, "v1: wrong number of fields");
	if (!v1_addr(family, field[2], field[4], &out->src) ||
	    !v1_addr(family, field[3], field[5], &out->dst))
		return fail(out, "v1: bad address or port");
	return PROXY_HEADER_DONE;
}

/* "PROXY ...\r\n": the line must end within PROXY_HEADER_V1_MAX bytes and hold only printable
 * US-ASCII before its CRLF. Bad bytes are refused as soon as they arrive. */
static enum proxy_header_status v1_parse(const uint8_t *buf, size_t len, struct proxy_header *out)
{
	size_t scan = len < PROXY_HEADER_V1_MAX ? len : PROXY_HEADER_V1_MAX;
	char line[PROXY_HEADER_V1_MAX];

	if (!prefix_matches(buf, len, v1_sig, sizeof(v1_sig)))
		return fail(out, "not a PROXY header");
	for (size_t i = 0; i < scan; i++) {
		if (buf[i] == '\r') {
			if (i + 2 > PROXY_HEADER_V1_MAX)
				return fail(out, "v1: no CRLF within 107 bytes");
			if (i + 1 == len)
				return PROXY_HEADER_NEED_MORE;
			if (buf[i + 1] != '\n')
				return fail(out, "v1: CR without LF");
			memcpy(line, buf, i);
			line[i] = '\0';
			out->len = i + 2;
			out->version = 1;
			return v1_fields(line, out);
		}
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return fail(out, "v1: control or non-ASCII byte");
	}
	if (len >= PROXY_HEADER_V1_MAX)
		return fail(out, "v1: no CRLF within 107 bytes");
	return PROXY_HEADER_NEED_MORE;
}

/* CRC-32C (Castagnoli, RFC 4960 appendix B), bit by bit: headers are small and rare. */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* The header's CRC-32C, taken with the 4 checksum bytes at off counted as zeroes. */
static bool v2_crc_ok(const uint8_t *hdr, size_t len, size_t off)
{
	static const uint8_t zero[4];
	uint32_t want = (uint32_t)hdr[off] << 24 | (uint32_t)hdr[off + 1] << 16 |
			(uint32_t)hdr[off + 2] << 8 | hdr[off + 3];
	uint32_t crc = crc32c(0, hdr, off);

	crc = crc32c(crc, zero, 4); /* crc32c(crc, ...) continues a running value */
	crc = crc32c(crc, hdr + off + 4, len - off - 4);
	return crc == want;
}

/* The TLVs in hdr[off..len): each a type, a 16-bit length and that many bytes, none past the
 * end. Unknown types are skipped; a CRC32C TLV must have 4 bytes and match. */
static enum proxy_header_status v2_tlvs(const uint8_t *hdr, size_t off, size_t len,
					struct proxy_header *out)
{
	while (off < len) {
		if (len - off < 3)
			return fail(out, "v2: truncated TLV");
		size_t n = (size_t)hdr[off + 1] << 8 | hdr[off + 2];
		if (n > len - off - 3)
			return fail(out, "v2: TLV longer than the header");
		if (hdr[off] == V2_TLV_CRC32C && (n != 4 || !v2_crc_ok(hdr, len, off + 3)))
			return fail(out, "v2: CRC32C mismatch");
		off += 3 + n;
	}
	return PROXY_HEADER_DONE;
}

/* The address block of a PROXY command: TCP over IPv4 or IPv6 gives the client's address;
 * UNSPEC (family or protocol: the whole block is opaque then, TLVs included) and UNIX streams
 * keep the connection's own, the specification's fallback; datagrams are refused. Returns the
 * length of what the TLV walk must skip through *addr_len. */
static enum proxy_header_status v2_addresses(const uint8_t *hdr, size_t hlen, size_t *addr_len,
					     struct proxy_header *out)
{
	unsigned af = hdr[13] >> 4, proto = hdr[13] & 0x0f;
	static const size_t need[] = {0, 12, 36, 216};

	*addr_len = hlen;
	if (af == V2_AF_UNSPEC || proto == V2_PROTO_UNSPEC) {
		out->local = true;
		return PROXY_HEADER_DONE;
	}
	if (proto == V2_PROTO_DGRAM)
		return fail(out, "v2: datagram, not a stream");
	if (hlen < need[af])
		return fail(out, "v2: length shorter than the addresses");
	*addr_len = need[af];
	if (af == V2_AF_UNIX) {
		out->local = true;
		return PROXY_HEADER_DONE;
	}
	const uint8_t *a = hdr + V2_FIXED;
	memset(&out->src, 0, sizeof(out->src));
	memset(&out->dst, 0, sizeof(out->dst));
	if (af == V2_AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		return PROXY_HEADER_DONE;
	}
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
	struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;
	s->sin6_family = d->sin6_family = AF_INET6;
	memcpy(&s->sin6_addr, a, 16);
	memcpy(&d->sin6_addr, a + 16, 16);
	memcpy(&s->sin6_port, a + 32, 2);
	memcpy(&d->sin6_port, a + 34, 2);
	return PROXY_HEADER_DONE;
}

/* The binary header: the fixed part is checked byte by byte as it arrives; the rest once the
 * whole length is in. LOCAL ignores the family and the whole block. */
static enum proxy_header_status v2_parse(const uint8_t *buf, size_t len, struct proxy_header *out)
{
	if (!prefix_matches(buf, len, v2_sig, sizeof(v2_sig)))
		return fail(out, "not a PROXY header");
	if (len > 12 && buf[12] >> 4 != 2)
		return fail(out, "v2: version is not 2");
	unsigned cmd = len > 12 ? buf[12] & 0x0f : 0;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return fail(out, "v2: unknown command");
	if (len > 13 && cmd == V2_CMD_PROXY && (buf[13] >> 4 > V2_AF_UNIX || (buf[13] & 0x0f) > 2))
		return fail(out, "v2: unknown family or protocol");
	if (len < V2_FIXED)
		return PROXY_HEADER_NEED_MORE;
	size_t hlen = (size_t)buf[14] << 8 | buf[15];
	if (V2_FIXED + hlen > PROXY_HEADER_MAX)
		return fail(out, "v2: header too long");
	if (len < V2_FIXED + hlen)
		return PROXY_HEADER_NEED_MORE;
	out->len = V2_FIXED + hlen;
	out->version = 2;
	if (cmd == V2_CMD_LOCAL) {
		out->local = true;
		return PROXY_HEADER_DONE;
	}
	size_t addr_len;
	enum proxy_header_status st = v2_addresses(buf, hlen, &addr_len, out);
	if (st != PROXY_HEADER_DONE)
		return st;
	return v2_tlvs(buf, V2_FIXED + addr_len, out->len, out);
}

enum proxy_header_status proxy_header_parse(const uint8_t *buf, size_t len, unsigned versions,
					    struct proxy_header *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return PROXY_HEADER_NEED_MORE;
	if (buf[0] == v1_sig[0] && (versions & PROXY_HEADER_V1))
		return v1_parse(buf, len, out);
	if (buf[0] == v2_sig[0] && (versions & PROXY_HEADER_V2))
		return v2_parse(buf, len, out);
	if (buf[0] == v1_sig[0] || buf[0] == v2_sig[0])
		return fail(out, buf[0] == v1_sig[0] ? "v1 header, only v2 accepted"
						     : "v2 header, only v1 accepted");
	return fail(out, "not a PROXY header");
}

/* The transport: TCP underneath; until the header is in, everything read goes into buf and
 * the owner (the accept path) hears only the outcome. Afterwards buf[off..have) is what came
 * with the header and goes out first, then reads go straight to the socket. */
struct proxy_transport {
	struct transport base; /* first: a struct transport * is a struct proxy_transport * */
	struct transport *inner;
	struct loop *loop;
	struct loop_timer deadline;
	uint8_t *buf; /* PROXY_HEADER_MAX bytes until the header's remainder is read; then NULL */
	size_t have, off;
	unsigned versions;
	unsigned want; /* what the owner asked for, after the header */
	bool done;     /* the header arrived: bytes pass through */
	bool closed;
	bool defer_queued; /* a TRANSPORT_READ for buffered bytes is on its way */
	proxy_header_cb *done_cb;
	void *done_ctx;
};

static struct proxy_transport *proxy_of(struct transport *t)
{
	return (struct proxy_transport *)t;
}

static size_t proxy_left(const struct proxy_transport *pt)
{
	return pt->done ? pt->have - pt->off : 0;
}

static void proxy_drop_buf(struct proxy_transport *pt)
{
	free(pt->buf);
	pt->buf = NULL;
	pt->have = pt->off = 0;
}

static ssize_t proxy_read(struct transport *t, void *buf, size_t len)
{
	struct proxy_transport *pt = proxy_of(t);
	size_t left = proxy_left(pt);

	if (!pt->done) {
		errno = EAGAIN;
		return -1;
	}
	if (left == 0) {
		pt->inner->quickack = t->quickack;
		return transport_read(pt->inner, buf, len);
	}
	size_t n = len < left ? len : left;
	memcpy(buf, pt->buf + pt->off, n);
	pt->off += n;
	if (pt->off == pt->have)
		proxy_drop_buf(pt);
	return (ssize_t)n;
}

static ssize_t proxy_write(struct transport *t, const void *buf, size_t len)
{
	struct proxy_transport *pt = proxy_of(t);

	if (!pt->done) {
		errno = EAGAIN; /* nothing goes to the sender before its header */
		return -1;
	}
	return transport_write(pt->inner, buf, len);
}

static size_t proxy_buffered(const struct transport *t)
{
	return proxy_left((const struct proxy_transport *)t);
}

/* Bytes the socket will not announce again: the owner hears of them from here. */
static void proxy_buffered_cb(struct loop *l, void *ctx)
{
	struct proxy_transport *pt = ctx;

	(void)l;
	pt->defer_queued = false;
	if (!pt->closed && (pt->want & TRANSPORT_READ) && proxy_left(pt) > 0)
		pt->base.cb(pt->base.ctx, TRANSPORT_READ);
}

static int proxy_want(struct transport *t, unsigned events)
{
	struct proxy_transport *pt = proxy_of(t);

	pt->want = events;
	if (!pt->done)
		return 0; /* reading the header: the socket stays armed for it */
	if ((events & TRANSPORT_READ) && proxy_left(pt) > 0 && !pt->defer_queued) {
		pt->defer_queued = true;
		loop_defer(pt->loop, proxy_buffered_cb, pt);
	}
	return transport_want(pt->inner, events);
}

static void proxy_free_cb(struct loop *l, void *ctx)
{
	(void)l;
	free(ctx);
}

static void proxy_shut(struct transport *t)
{
	transport_shut(proxy_of(t)->inner);
}

static void proxy_close(struct transport *t)
{
	struct proxy_transport *pt = proxy_of(t);

	pt->closed = true;
	loop_timer_stop(pt->loop, &pt->deadline);
	transport_close(pt->inner);
	pt->inner = NULL;
	proxy_drop_buf(pt);
	loop_defer(pt->loop, proxy_free_cb, pt);
}

static const struct transport_ops proxy_ops = {
	.name = "tcp+proxy",
	.read = proxy_read,
	.write = proxy_write,
	.buffered = proxy_buffered,
	.shut = proxy_shut,
	.want = proxy_want,
	.close = proxy_close,
};

/* The one report: the header, or why there is none. The socket rests until the owner (now
 * holding the transport) says what it wants. */
static void proxy_report(struct proxy_transport *pt, const struct proxy_header *hdr)
{
	loop_timer_stop(pt->loop, &pt->deadline);
	if (hdr->error == NULL) {
		pt->done = true;
		pt->off = hdr->len;
		if (pt->off == pt->have)
			proxy_drop_buf(pt);
	}
	transport_want(pt->inner, 0);
	pt->done_cb(pt->done_ctx, &pt->base, hdr);
}

static void proxy_fail(struct proxy_transport *pt, const char *why)
{
	struct proxy_header hdr = {.error = why};

	proxy_report(pt, &hdr);
}

static void proxy_deadline_cb(struct loop *l, void *ctx)
{
	(void)l;
	proxy_fail(ctx, "no PROXY header in time");
}

/* Reads what the socket has towards the header (one read per wake-up: the loop is
 * level-triggered) and parses everything so far. */
static void proxy_header_step(struct proxy_transport *pt)
{
	struct proxy_header hdr;
	ssize_t n = transport_read(pt->inner, pt->buf + pt->have, PROXY_HEADER_MAX - pt->have);

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		proxy_fail(pt, n == 0 ? "closed before the PROXY header" : "read failed");
		return;
	}
	pt->have += (size_t)n;
	switch (proxy_header_parse(pt->buf, pt->have, pt->versions, &hdr)) {
	case PROXY_HEADER_NEED_MORE:
		if (pt->have == PROXY_HEADER_MAX) /* the parser refuses before: kept as a guard */
			proxy_fail(pt, "header too long");
		return;
	case PROXY_HEADER_DONE:
	case PROXY_HEADER_ERROR:
		proxy_report(pt, &hdr);
		return;
	}
}

static void proxy_io_cb(void *ctx, unsigned events)
{
	struct proxy_transport *pt = ctx;

	if (pt->done) {
		pt->base.cb(pt->base.ctx, events);
		return;
	}
	if (events & (TRANSPORT_READ | TRANSPORT_ERROR))
		proxy_header_step(pt);
}

struct transport *transport_proxy_new(struct loop *l, int fd, unsigned versions,
				      uint64_t timeout_ms, proxy_header_cb *done, void *ctx)
{
	struct proxy_transport *pt = xcalloc(1, sizeof(*pt));

	pt->inner = transport_tcp_new(l, fd, proxy_io_cb, pt);
	if (pt->inner == NULL) {
		free(pt);
		return NULL;
	}
	pt->base.ops = &proxy_ops;
	pt->loop = l;
	pt->buf = xmalloc(PROXY_HEADER_MAX);
	pt->versions = versions;
	pt->done_cb = done;
	pt->done_ctx = ctx;
	loop_timer_init(&pt->deadline);
	loop_timer_start(l, &pt->deadline, timeout_ms, proxy_deadline_cb, pt);
	return &pt->base;
}
