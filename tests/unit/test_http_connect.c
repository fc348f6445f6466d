/* Unit tests for src/proxy/http_connect.c: the exact CONNECT request, and response headers fed
 * one byte at a time, alone and followed by tunnel data. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/http_connect.h"

static void check_request(const char *host, uint16_t port, const char *user, const char *pass,
			  const char *want)
{
	size_t len = 0;
	char *req = http_connect_request(host, port, user, pass, &len);

	assert_string_equal(req, want);
	assert_int_equal(len, strlen(want));
	free(req);
}

static void test_request_plain(void **state)
{
	(void)state;
	check_request("example.com", 443, NULL, NULL,
		      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	check_request("192.0.2.1", 22, NULL, "ignored",
		      "CONNECT 192.0.2.1:22 HTTP/1.1\r\nHost: 192.0.2.1:22\r\n\r\n");
}

static void test_request_ipv6_bracketed(void **state)
{
	(void)state;
	check_request("2001:db8::1", 443, NULL, NULL,
		      "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
	check_request("::1", 65535, NULL, NULL,
		      "CONNECT [::1]:65535 HTTP/1.1\r\nHost: [::1]:65535\r\n\r\n");
}

static void test_request_basic_auth(void **state)
{
	(void)state;
	/* RFC 7617's example */
	check_request("h", 1, "Aladdin", "open sesame",
		      "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
		      "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
	/* every padding length: "a:" "ab:" "abc:" */
	check_request(
		"h", 1, "a", NULL,
		"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Basic YTo=\r\n\r\n");
	check_request(
		"h", 1, "ab", "",
		"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Basic YWI6\r\n\r\n");
	check_request("h", 1, "abc", NULL,
		      "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
		      "Proxy-Authorization: Basic YWJjOg==\r\n\r\n");
	/* bytes that need the whole alphabet, a ':' in the password */
	check_request("h", 1, "\xfb\xff", "a:b\xbf",
		      "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
		      "Proxy-Authorization: Basic +/86YTpivw==\r\n\r\n");
}

/* Feeds resp[0..k) for every k with one struct, as the outbound does. Returns the result for
 * the whole response. */
static int feed(const char *resp, size_t len, size_t header_len, unsigned *status)
{
	struct http_connect_resp r = {0};
	int ret = 0;

	for (size_t k = 0; k <= len; k++) {
		ret = http_connect_parse(&r, (const uint8_t *)resp, k);
		if (ret != 0) {
			assert_int_equal(k, header_len);
			break;
		}
	}
	*status = r.status;
	return ret;
}

static void test_parse_200_byte_by_byte(void **state)
{
	static const char resp[] = "HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-x\r\n";
	unsigned st = 0;

	(void)state;
	assert_int_equal(feed(resp, strlen(resp), 39, &st), 39);
	assert_int_equal(st, 200);
}

static void test_parse_http10_headers(void **state)
{
	static const char resp[] =
		"HTTP/1.0 200 OK\r\nProxy-Agent: test\r\nVia: 1.1 x\r\n\r\n\x00\x01\x02";
	unsigned st = 0;
	size_t hl = strlen(resp);

	(void)state;
	assert_int_equal(feed(resp, hl + 3, hl, &st), (int)hl);
	assert_int_equal(st, 200);
}

static void test_parse_other_2xx_and_errors(void **state)
{
	static const struct {
		const char *resp;
		unsigned status;
	} cases[] = {
		{"HTTP/1.1 204 No Content\r\n\r\n", 204},
		{"HTTP/1.1 299\r\n\r\n", 299},
		{"HTTP/1.1 407 Proxy Authentication Required\r\n"
		 "Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
		 407},
		{"HTTP/1.0 401 Unauthorized\r\n\r\n", 401},
		{"HTTP/1.1 403 Forbidden\r\n\r\nbody", 403},
		{"HTTP/1.1 502 Bad Gateway\r\n\r\n", 502},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *resp = cases[i].resp;
		size_t hl = strstr(resp, "\r\n\r\n") + 4 - resp;
		unsigned st = 0;
		assert_int_equal(feed(resp, strlen(resp), hl, &st), (int)hl);
		assert_int_equal(st, cases[i].status);
	}
}

static void test_parse_bare_lf(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\nX: y\n\ndata";
	static const char mixed[] = "HTTP/1.1 200 OK\r\nX: y\n\r\ndata";
	unsigned st = 0;

	(void)state;
	assert_int_equal(feed(resp, strlen(resp), 22, &st), 22);
	assert_int_equal(st, 200);
	assert_int_equal(feed(mixed, strlen(mixed), 24, &st), 24);
}

/* A lone CR inside a line is not a line end. */
static void test_parse_cr_inside_line(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n";
	unsigned st = 0;

	(void)state;
	assert_int_equal(feed(resp, strlen(resp), strlen(resp), &st), (int)strlen(resp));
}

static void check_proto_error(const char *resp, size_t at)
{
	struct http_connect_resp r = {0};
	size_t len = strlen(resp);

	for (size_t k = 0; k < at; k++) {
		assert_int_equal(http_connect_parse(&r, (const uint8_t *)resp, k), 0);
	}
	assert_int_equal(http_connect_parse(&r, (const uint8_t *)resp, at), -EPROTO);
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_connect_parse(&r, (const uint8_t *)resp, len), -EPROTO);
}

static void test_parse_not_http(void **state)
{
	(void)state;
	/* caught at the first byte that can't start "HTTP/1.0" or "HTTP/1.1" */
	check_proto_error("\x05\xff", 1);
	check_proto_error("SSH-2.0-OpenSSH\r\n", 1);
	check_proto_error("HTTP/2 200\r\n\r\n", 6);
	check_proto_error("HTTP/1.2 200 OK\r\n\r\n", 8);
	check_proto_error("http/1.1 200 OK\r\n\r\n", 1);
	/* malformed status lines: seen once the header is complete */
	check_proto_error("HTTP/1.1 2000 OK\r\n\r\n", 20);
	check_proto_error("HTTP/1.1 20\r\n\r\n", 15);
	check_proto_error("HTTP/1.1  200 OK\r\n\r\n", 20);
	check_proto_error("HTTP/1.1 2x0 OK\r\n\r\n", 19);
	check_proto_error("HTTP/1.1 099 Odd\r\n\r\n", 20);
	check_proto_error("HTTP/1.1\r\n\r\n", 12);
}

static void test_parse_header_limit(void **state)
{
	size_t cap = HTTP_CONNECT_MAX_HEADER + 64;
	char *buf = malloc(cap);
	struct http_connect_resp r = {0};
	size_t n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");

	(void)state;
	while (n + 10 < HTTP_CONNECT_MAX_HEADER - 2) {
		n += (size_t)sprintf(buf + n, "X: 123\r\n");
	}
	/* pad so the header ends exactly at the limit */
	size_t pad = HTTP_CONNECT_MAX_HEADER - 2 - n;
	memset(buf + n, 'p', pad);
	n += pad;
	memcpy(buf + n - 2, "\r\n\r\n", 4);
	n += 2;
	assert_int_equal(n, HTTP_CONNECT_MAX_HEADER);
	assert_int_equal(http_connect_parse(&r, (uint8_t *)buf, n), HTTP_CONNECT_MAX_HEADER);
	/* one byte more and it is too large, whether it ends or not */
	memmove(buf + 17, buf + 16, n - 16);
	buf[16] = ' ';
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_connect_parse(&r, (uint8_t *)buf, n + 1), -EMSGSIZE);
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_connect_parse(&r, (uint8_t *)buf, n), -EMSGSIZE);
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_connect_parse(&r, (uint8_t *)buf, n - 1), 0);
	free(buf);
}

/* Byte-by-byte arrival of a header that never ends: "need more" until the limit, then
 * -EMSGSIZE, and the scan resumes instead of starting over (fast enough to run 16 K times). */
static void test_parse_endless_header(void **state)
{
	size_t cap = HTTP_CONNECT_MAX_HEADER + 1;
	char *buf = malloc(cap);
	struct http_connect_resp r = {0};

	(void)state;
	memcpy(buf, "HTTP/1.1 200 OK\r\n", 17);
	for (size_t i = 17; i < cap; i++) {
		buf[i] = i % 40 == 0 ? '\n' : 'h';
	}
	for (size_t k = 0; k < HTTP_CONNECT_MAX_HEADER; k++) {
		assert_int_equal(http_connect_parse(&r, (uint8_t *)buf, k), 0);
	}
	assert_int_equal(http_connect_parse(&r, (uint8_t *)buf, HTTP_CONNECT_MAX_HEADER),
			 -EMSGSIZE);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_plain),
		cmocka_unit_test(test_request_ipv6_bracketed),
		cmocka_unit_test(test_request_basic_auth),
		cmocka_unit_test(test_parse_200_byte_by_byte),
		cmocka_unit_test(test_parse_http10_headers),
		cmocka_unit_test(test_parse_other_2xx_and_errors),
		cmocka_unit_test(test_parse_bare_lf),
		cmocka_unit_test(test_parse_cr_inside_line),
		cmocka_unit_test(test_parse_not_http),
		cmocka_unit_test(test_parse_header_limit),
		cmocka_unit_test(test_parse_endless_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
