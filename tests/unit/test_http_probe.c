/* Unit tests for the nginx answers of --stealth (src/transport/http_probe.c): which status
 * each request gets, when more bytes are needed, keep-alive, and the answer's exact bytes
 * (tests/e2e/test_stealth.py compares them with a real nginx). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/http_probe.h"

static struct http_probe_req parse(const char *s, enum http_probe_result want)
{
	struct http_probe_req r;

	assert_int_equal(http_probe_parse((const uint8_t *)s, strlen(s), &r), want);
	return r;
}

static void test_statuses(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status, 404);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status, 403);
	assert_int_equal(parse("GET /a/.. HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status,
			 403);
	assert_int_equal(parse("GET /../a HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status,
			 400);
	assert_int_equal(parse("GET /%2e%2e/a HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status,
			 400);
	assert_int_equal(parse("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status,
			 400);
	assert_int_equal(parse("PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status, 405);
	assert_int_equal(parse("GET /x HTTP/1.1\r\n\r\n", HTTP_PROBE_DONE).status, 400);
	assert_int_equal(parse("GET /x HTTP/3.0\r\n", HTTP_PROBE_DONE).status, 505);
	assert_int_equal(parse("get /x", HTTP_PROBE_DONE).status, 400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
			       HTTP_PROBE_DONE)
				 .status,
			 501);
	assert_int_equal(parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999\r\n\r\n",
			       HTTP_PROBE_DONE)
				 .status,
			 413);
	struct http_probe_req r = parse("GET /x\r\n", HTTP_PROBE_DONE);
	assert_true(r.http09);
	assert_int_equal(r.status, 404);
}

static void test_incomplete_needs_more(void **state)
{
	(void)state;
	const char *full = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";
	size_t head = strlen(full) - 4;
	struct http_probe_req r;

	for (size_t n = 0; n < head; n++)
		assert_int_equal(http_probe_parse((const uint8_t *)full, n, &r), HTTP_PROBE_MORE);
	assert_int_equal(http_probe_parse((const uint8_t *)full, head, &r), HTTP_PROBE_DONE);
	assert_int_equal(r.consumed, head);
	assert_int_equal(r.body_left, 4);
	assert_true(r.keep_alive);
}

static void test_limits(void **state)
{
	(void)state;
	static char big[HTTP_PROBE_LINE_MAX + 64];
	struct http_probe_req r;

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	assert_int_equal(http_probe_parse((const uint8_t *)big, sizeof(big), &r), HTTP_PROBE_DONE);
	assert_int_equal(r.status, 414);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(http_probe_parse((const uint8_t *)big, sizeof(big), &r), HTTP_PROBE_DONE);
	assert_int_equal(r.status, HTTP_PROBE_HEADER_TOO_LARGE);
}

static void test_keep_alive(void **state)
{
	(void)state;
	assert_false(parse("GET /x HTTP/1.0\r\n\r\n", HTTP_PROBE_DONE).keep_alive);
	assert_true(parse("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", HTTP_PROBE_DONE)
			    .keep_alive);
	assert_false(
		parse("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", HTTP_PROBE_DONE)
			.keep_alive);
	assert_false(parse("GET x HTTP/1.1\r\n\r\n", HTTP_PROBE_DONE).keep_alive); /* 400 */
}

static void test_answer_bytes(void **state)
{
	(void)state;
	char out[HTTP_PROBE_ANSWER_MAX];
	struct http_probe_req r = parse("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE);
	size_t n = http_probe_answer(&r, 0, false, out);

	out[n] = '\0';
	assert_string_equal(out,
			    "HTTP/1.1 404 Not Found\r\nServer: nginx\r\nDate: Thu, 01 Jan 1970 "
			    "00:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: "
			    "146\r\nConnection: keep-alive\r\n\r\n");
	r = parse("GET /x\r\n", HTTP_PROBE_DONE);
	n = http_probe_answer(&r, 0, true, out);
	out[n] = '\0';
	assert_string_equal(out, "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
				 "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx"
				 "</center>\r\n</body>\r\n</html>\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),     cmocka_unit_test(test_incomplete_needs_more),
		cmocka_unit_test(test_limits),	     cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_answer_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
