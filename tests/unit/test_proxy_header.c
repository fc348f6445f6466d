/* Unit tests for proxy_header_parse (src/transport/proxy_header.c): every v1 and v2 form, each
 * truncated at every byte, the limits, bad signatures, lengths, families and TLVs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "transport/proxy_header.h"

static const uint8_t SIG[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static enum proxy_header_status parse(const void *p, size_t n, unsigned versions,
				      struct proxy_header *h)
{
	return proxy_header_parse(p, n, versions, h);
}

/* Every strict prefix of a valid header is incomplete, never an error. */
static void assert_prefixes_need_more(const uint8_t *p, size_t n, unsigned versions)
{
	struct proxy_header h;

	for (size_t i = 0; i < n; i++) {
		enum proxy_header_status st = parse(p, i, versions, &h);
		if (st != PROXY_HEADER_NEED_MORE)
			fail_msg("prefix of %zu bytes: status %d (%s)", i, st,
				 h.error ? h.error : "");
	}
}

/* A whole valid header, alone and followed by SSH bytes: DONE with the header's length. */
static struct proxy_header parse_ok(const uint8_t *p, size_t n, unsigned versions)
{
	struct proxy_header h;
	uint8_t more[PROXY_HEADER_MAX + 64];

	assert_prefixes_need_more(p, n, versions);
	memcpy(more, p, n);
	memcpy(more + n, "SSH-2.0-x\r\n", 11);
	assert_int_equal(parse(more, n + 11, versions, &h), PROXY_HEADER_DONE);
	assert_int_equal(h.len, n);
	assert_int_equal(parse(p, n, versions, &h), PROXY_HEADER_DONE);
	assert_int_equal(h.len, n);
	assert_null(h.error);
	return h;
}

static void parse_bad(const void *p, size_t n, unsigned versions, const char *why)
{
	struct proxy_header h;

	assert_int_equal(parse(p, n, versions, &h), PROXY_HEADER_ERROR);
	assert_string_equal(h.error, why);
}

static void assert_addr(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	char buf[64];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(s->sin_port), port);
	} else {
		assert_int_equal(ss->ss_family, AF_INET6);
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(s->sin6_port), port);
	}
	assert_string_equal(buf, ip);
}

static void v1_ok(const char *line, unsigned versions, struct proxy_header *out)
{
	*out = parse_ok((const uint8_t *)line, strlen(line), versions);
	assert_int_equal(out->version, 1);
}

static void test_v1_tcp4(void **state)
{
	struct proxy_header h;

	(void)state;
	v1_ok("PROXY TCP4 192.0.2.7 198.51.100.1 56324 22\r\n", PROXY_HEADER_ANY, &h);
	assert_false(h.local);
	assert_addr(&h.src, "192.0.2.7", 56324);
	assert_addr(&h.dst, "198.51.100.1", 22);
	v1_ok("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", PROXY_HEADER_V1, &h);
	assert_addr(&h.src, "255.255.255.255", 65535);
	v1_ok("PROXY TCP4 0.0.0.0 10.0.0.1 0 1\r\n", PROXY_HEADER_V1, &h);
	assert_addr(&h.src, "0.0.0.0", 0);
}

static void test_v1_tcp6(void **state)
{
	struct proxy_header h;
	const char *longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	(void)state;
	v1_ok("PROXY TCP6 2001:db8::7 ::1 40000 2222\r\n", PROXY_HEADER_ANY, &h);
	assert_false(h.local);
	assert_addr(&h.src, "2001:db8::7", 40000);
	assert_addr(&h.dst, "::1", 2222);
	assert_int_equal(strlen(longest), 104);
	v1_ok(longest, PROXY_HEADER_V1, &h);
	assert_addr(&h.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	v1_ok("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", PROXY_HEADER_V1, &h);
}

static void test_v1_unknown(void **state)
{
	struct proxy_header h;
	char worst[128];

	(void)state;
	v1_ok("PROXY UNKNOWN\r\n", PROXY_HEADER_ANY, &h);
	assert_true(h.local);
	v1_ok("PROXY UNKNOWN anything at all 1 2\r\n", PROXY_HEADER_V1, &h);
	assert_true(h.local);
	/* The specification's worst case: exactly 107 bytes. */
	snprintf(worst, sizeof(worst), "PROXY UNKNOWN %s %s 65535 65535\r\n",
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(strlen(worst), PROXY_HEADER_V1_MAX);
	v1_ok(worst, PROXY_HEADER_V1, &h);
	assert_true(h.local);
}

static void test_v1_too_long(void **state)
{
	char line[200];

	(void)state;
	/* 108 bytes with the CRLF, and no CRLF at all in 107 bytes. */
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "PROXY UNKNOWN %0*d\r\n", 108 - 16, 0);
	assert_int_equal(strlen(line), 108);
	assert_prefixes_need_more((const uint8_t *)line, 106, PROXY_HEADER_V1);
	parse_bad(line, 107, PROXY_HEADER_V1, "v1: no CRLF within 107 bytes");
	parse_bad(line, 108, PROXY_HEADER_V1, "v1: no CRLF within 107 bytes");
	memset(line, 'A', sizeof(line));
	memcpy(line, "PROXY ", 6);
	parse_bad(line, 107, PROXY_HEADER_V1, "v1: no CRLF within 107 bytes");
	parse_bad(line, 200, PROXY_HEADER_ANY, "v1: no CRLF within 107 bytes");
	assert_prefixes_need_more((const uint8_t *)line, 107, PROXY_HEADER_V1);
}

static void test_v1_malformed(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n", "v1: wrong number of fields"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 56324 22 9\r\n", "v1: wrong number of fields"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 56324 22 \r\n", "v1: wrong number of fields"},
		{"PROXY TCP4  192.0.2.7 198.51.100.1 1 22\r\n", "v1: wrong number of fields"},
		{"PROXY TCP4 192.0.2.07 198.51.100.1 1 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2 198.51.100.1 1 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2.256 198.51.100.1 1 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 ::1 198.51.100.1 1 22\r\n", "v1: bad address or port"},
		{"PROXY TCP6 192.0.2.1 ::1 1 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 022 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 65536 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 -1 22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 1 +22\r\n", "v1: bad address or port"},
		{"PROXY TCP4 192.0.2.7 198.51.100.1 1 \r\n", "v1: bad address or port"},
		{"PROXY TCP5 192.0.2.7 198.51.100.1 1 22\r\n", "v1: unknown protocol"},
		{"PROXY tcp4 192.0.2.7 198.51.100.1 1 22\r\n", "v1: unknown protocol"},
		{"PROXY UNKNOWNX\r\n", "v1: unknown protocol"},
		{"PROXY \r\n", "v1: unknown protocol"},
		{"PROXY TCP4 192.0.2.7\n", "v1: control or non-ASCII byte"},
		{"PROXY TCP4 192.0.2.7\rX", "v1: CR without LF"},
		{"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "v1: control or non-ASCII byte"},
		{"PROXY TCP4 \xc3\xa9", "v1: control or non-ASCII byte"},
		{"PROXYTCP4", "not a PROXY header"},
		{"proxy TCP4", "not a PROXY header"},
		{"PROX\r\n", "not a PROXY header"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_header h;
		enum proxy_header_status st =
			parse(cases[i].line, strlen(cases[i].line), PROXY_HEADER_ANY, &h);
		if (st != PROXY_HEADER_ERROR || strcmp(h.error, cases[i].why) != 0)
			fail_msg("case %zu: %d %s", i, st, h.error ? h.error : "(none)");
	}
}

/* The 16 fixed bytes of a v2 header announcing n more. */
static void v2_fixed(uint8_t *out, uint8_t ver_cmd, uint8_t fam, size_t n)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
}

/* A v2 header: the signature, ver_cmd, fam, the length of body, body. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t n)
{
	v2_fixed(out, ver_cmd, fam, n);
	if (n)
		memcpy(out + 16, body, n);
	return 16 + n;
}

static const uint8_t V4_BODY[12] = {192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x00, 0x16};

static void test_v2_tcp4(void **state)
{
	uint8_t b[64];
	size_t n = v2(b, 0x21, 0x11, V4_BODY, 12);

	(void)state;
	struct proxy_header h = parse_ok(b, n, PROXY_HEADER_ANY);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	assert_addr(&h.src, "192.0.2.7", 56324);
	assert_addr(&h.dst, "198.51.100.1", 22);
	h = parse_ok(b, n, PROXY_HEADER_V2);
	assert_addr(&h.src, "192.0.2.7", 56324);
}

static void test_v2_tcp6(void **state)
{
	uint8_t body[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7, [31] = 1, 0x9c, 0x40, 0x08, 0xae};
	uint8_t b[64];
	size_t n = v2(b, 0x21, 0x21, body, 36);

	(void)state;
	struct proxy_header h = parse_ok(b, n, PROXY_HEADER_ANY);
	assert_false(h.local);
	assert_addr(&h.src, "2001:db8::7", 40000);
	assert_addr(&h.dst, "::1", 2222);
}

static void test_v2_local(void **state)
{
	uint8_t b[64];
	struct proxy_header h;

	(void)state;
	/* LOCAL, as HAProxy's health checks send it: no addresses. */
	h = parse_ok(b, v2(b, 0x20, 0x00, NULL, 0), PROXY_HEADER_ANY);
	assert_true(h.local);
	/* LOCAL ignores the family and the block, even one too short for its family. */
	h = parse_ok(b, v2(b, 0x20, 0x11, V4_BODY, 12), PROXY_HEADER_V2);
	assert_true(h.local);
	h = parse_ok(b, v2(b, 0x20, 0x21, V4_BODY, 3), PROXY_HEADER_V2);
	assert_true(h.local);
	h = parse_ok(b, v2(b, 0x20, 0xff, V4_BODY, 5), PROXY_HEADER_V2);
	assert_true(h.local);
}

static void test_v2_fallback_families(void **state)
{
	uint8_t body[216 + 8] = {'/', 't', 'm', 'p'};
	uint8_t b[300];
	struct proxy_header h;

	(void)state;
	/* UNSPEC family or protocol, and UNIX streams: the connection's own addresses. */
	h = parse_ok(b, v2(b, 0x21, 0x00, NULL, 0), PROXY_HEADER_ANY);
	assert_true(h.local);
	h = parse_ok(b, v2(b, 0x21, 0x00, body, 7), PROXY_HEADER_ANY);
	assert_true(h.local);
	h = parse_ok(b, v2(b, 0x21, 0x31, body, 216), PROXY_HEADER_ANY);
	assert_true(h.local);
	h = parse_ok(b, v2(b, 0x21, 0x10, V4_BODY, 12), PROXY_HEADER_ANY);
	assert_true(h.local);
	h = parse_ok(b, v2(b, 0x21, 0x10, V4_BODY, 3), PROXY_HEADER_ANY);
	assert_true(h.local);
	/* After a UNIX stream's addresses, TLVs are checked like any others. */
	parse_bad(b, v2(b, 0x21, 0x31, body, 218), PROXY_HEADER_ANY, "v2: truncated TLV");
	/* Datagrams are refused: an SSH connection is a stream. */
	parse_bad(b, v2(b, 0x21, 0x12, V4_BODY, 12), PROXY_HEADER_ANY,
		  "v2: datagram, not a stream");
	parse_bad(b, v2(b, 0x21, 0x32, body, 216), PROXY_HEADER_ANY, "v2: datagram, not a stream");
}

static void test_v2_bad_fixed_part(void **state)
{
	uint8_t b[64];

	(void)state;
	/* Errors in the fixed part show as soon as the byte arrives. */
	v2(b, 0x11, 0x11, V4_BODY, 12);
	parse_bad(b, 13, PROXY_HEADER_ANY, "v2: version is not 2");
	v2(b, 0x31, 0x11, V4_BODY, 12);
	parse_bad(b, 28, PROXY_HEADER_ANY, "v2: version is not 2");
	v2(b, 0x22, 0x11, V4_BODY, 12);
	parse_bad(b, 13, PROXY_HEADER_ANY, "v2: unknown command");
	v2(b, 0x2f, 0x11, V4_BODY, 12);
	parse_bad(b, 28, PROXY_HEADER_ANY, "v2: unknown command");
	v2(b, 0x21, 0x41, V4_BODY, 12);
	parse_bad(b, 14, PROXY_HEADER_ANY, "v2: unknown family or protocol");
	v2(b, 0x21, 0x13, V4_BODY, 12);
	parse_bad(b, 14, PROXY_HEADER_ANY, "v2: unknown family or protocol");
}

static void test_v2_bad_signature(void **state)
{
	uint8_t b[64];
	size_t n = v2(b, 0x21, 0x11, V4_BODY, 12);

	(void)state;
	/* One wrong byte anywhere in the signature: refused from that byte on. */
	for (size_t i = 1; i < 12; i++) {
		uint8_t c[64];
		memcpy(c, b, n);
		c[i] ^= 0x40;
		assert_prefixes_need_more(c, i, PROXY_HEADER_V2);
		parse_bad(c, i + 1, PROXY_HEADER_V2, "not a PROXY header");
		parse_bad(c, n, PROXY_HEADER_ANY, "not a PROXY header");
	}
}

static void test_v2_bad_length(void **state)
{
	uint8_t b[PROXY_HEADER_MAX + 64] = {0};
	uint8_t body[PROXY_HEADER_MAX] = {0};

	(void)state;
	/* Shorter than the family's addresses. */
	parse_bad(b, v2(b, 0x21, 0x11, V4_BODY, 11), PROXY_HEADER_ANY,
		  "v2: length shorter than the addresses");
	parse_bad(b, v2(b, 0x21, 0x21, body, 35), PROXY_HEADER_ANY,
		  "v2: length shorter than the addresses");
	parse_bad(b, v2(b, 0x21, 0x31, body, 215), PROXY_HEADER_ANY,
		  "v2: length shorter than the addresses");
	parse_bad(b, v2(b, 0x21, 0x11, NULL, 0), PROXY_HEADER_ANY,
		  "v2: length shorter than the addresses");
	/* Longer than we take: refused from the 16th byte, before any of the body is read. */
	v2(b, 0x21, 0x11, body, PROXY_HEADER_MAX - 15);
	parse_bad(b, 16, PROXY_HEADER_ANY, "v2: header too long");
	v2_fixed(b, 0x21, 0x11, 0xffff);
	parse_bad(b, 16, PROXY_HEADER_ANY, "v2: header too long");
	v2_fixed(b, 0x20, 0x00, 0xffff);
	parse_bad(b, 16, PROXY_HEADER_ANY, "v2: header too long");
}

/* A TLV at p: type, 16-bit length, value. Returns its size. */
static size_t tlv(uint8_t *p, uint8_t type, const void *val, size_t n)
{
	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	memcpy(p + 3, val, n);
	return 3 + n;
}

static void test_v2_tlvs(void **state)
{
	uint8_t body[PROXY_HEADER_MAX], b[PROXY_HEADER_MAX + 16];
	static const uint8_t big[PROXY_HEADER_MAX];
	size_t n = 12;

	(void)state;
	memcpy(body, V4_BODY, 12);
	n += tlv(body + n, 0x01, "h2", 2);	     /* ALPN */
	n += tlv(body + n, 0x02, "example.com", 11); /* authority */
	n += tlv(body + n, 0x04, "", 0);	     /* NOOP */
	n += tlv(body + n, 0x20, "\x01\0\0\0\0", 5); /* SSL */
	n += tlv(body + n, 0xe0, "custom", 6);	     /* application range */
	struct proxy_header h = parse_ok(b, v2(b, 0x21, 0x11, body, n), PROXY_HEADER_ANY);
	assert_addr(&h.src, "192.0.2.7", 56324);
	/* The largest header taken: a NOOP TLV fills it to PROXY_HEADER_MAX bytes. */
	n = 12 + tlv(body + 12, 0x04, big, PROXY_HEADER_MAX - 16 - 12 - 3);
	assert_int_equal(v2(b, 0x21, 0x11, body, n), PROXY_HEADER_MAX);
	parse_ok(b, PROXY_HEADER_MAX, PROXY_HEADER_V2);
	/* A TLV header cut short, and a value past the end. */
	n = 12 + tlv(body + 12, 0x01, "h2", 2);
	parse_bad(b, v2(b, 0x21, 0x11, body, n - 3), PROXY_HEADER_ANY, "v2: truncated TLV");
	parse_bad(b, v2(b, 0x21, 0x11, body, n - 1), PROXY_HEADER_ANY,
		  "v2: TLV longer than the header");
	parse_bad(b, v2(b, 0x21, 0x11, body, 13), PROXY_HEADER_ANY, "v2: truncated TLV");
	body[13] = 0xff;
	parse_bad(b, v2(b, 0x21, 0x11, body, 15), PROXY_HEADER_ANY,
		  "v2: TLV longer than the header");
}

/* CRC-32C the long way, checked against the standard check value first. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void test_v2_crc32c(void **state)
{
	uint8_t body[64], b[96];
	size_t n = 12;

	(void)state;
	assert_int_equal(ref_crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
	memcpy(body, V4_BODY, 12);
	n += tlv(body + n, 0x01, "h2", 2);
	size_t crc_at = 16 + n + 3;
	n += tlv(body + n, 0x03, "\0\0\0\0", 4);
	n += tlv(body + n, 0x02, "host", 4);
	size_t len = v2(b, 0x21, 0x11, body, n);
	uint32_t crc = ref_crc32c(b, len);
	b[crc_at] = (uint8_t)(crc >> 24);
	b[crc_at + 1] = (uint8_t)(crc >> 16);
	b[crc_at + 2] = (uint8_t)(crc >> 8);
	b[crc_at + 3] = (uint8_t)crc;
	parse_ok(b, len, PROXY_HEADER_ANY);
	/* Any changed bit, in the addresses or the checksum itself, fails it. */
	b[20] ^= 1;
	parse_bad(b, len, PROXY_HEADER_ANY, "v2: CRC32C mismatch");
	b[20] ^= 1;
	b[crc_at + 3] ^= 0x80;
	parse_bad(b, len, PROXY_HEADER_ANY, "v2: CRC32C mismatch");
	/* A checksum TLV must be 4 bytes. */
	n = 12 + tlv(body + 12, 0x03, "\0\0\0", 3);
	parse_bad(b, v2(b, 0x21, 0x11, body, n), PROXY_HEADER_ANY, "v2: CRC32C mismatch");
}

static void test_versions_and_garbage(void **state)
{
	uint8_t b[64];
	size_t n = v2(b, 0x21, 0x11, V4_BODY, 12);
	const char *v1 = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 22\r\n";
	struct proxy_header h;

	(void)state;
	parse_bad(b, 1, PROXY_HEADER_V1, "v2 header, only v1 accepted");
	parse_bad(b, n, PROXY_HEADER_V1, "v2 header, only v1 accepted");
	parse_bad(v1, 1, PROXY_HEADER_V2, "v1 header, only v2 accepted");
	parse_bad(v1, strlen(v1), PROXY_HEADER_V2, "v1 header, only v2 accepted");
	parse_bad("SSH-2.0-OpenSSH_9.2p1\r\n", 23, PROXY_HEADER_ANY, "not a PROXY header");
	parse_bad("GET / HTTP/1.1\r\n", 16, PROXY_HEADER_ANY, "not a PROXY header");
	parse_bad("\0", 1, PROXY_HEADER_ANY, "not a PROXY header");
	assert_int_equal(parse(b, 0, PROXY_HEADER_ANY, &h), PROXY_HEADER_NEED_MORE);
	assert_int_equal(parse("P", 1, PROXY_HEADER_ANY, &h), PROXY_HEADER_NEED_MORE);
	assert_int_equal(parse("\r", 1, PROXY_HEADER_ANY, &h), PROXY_HEADER_NEED_MORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_too_long),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v2_tcp4),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_fallback_families),
		cmocka_unit_test(test_v2_bad_fixed_part),
		cmocka_unit_test(test_v2_bad_signature),
		cmocka_unit_test(test_v2_bad_length),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_crc32c),
		cmocka_unit_test(test_versions_and_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
