/* Unit tests for the nginx answers of --stealth (src/transport/http_probe.c): which status
 * each request gets, when more bytes are needed, keep-alive, and the answer's exact bytes
 * (tests/e2e/test_stealth.py compares them with a real nginx). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	assert_int_equal(r.body.left, 4);
	assert_false(r.body.chunked);
	assert_true(r.keep_alive);
}

/* nginx checks the path with the request line, before any header comes. */
static void test_bad_path_needs_no_headers(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /../a HTTP/1.1\r\n", HTTP_PROBE_DONE).status, 400);
	assert_int_equal(parse("GET /%zz HTTP/1.1\r\n", HTTP_PROBE_DONE).status, 400);
	assert_int_equal(parse("PUT /../a HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_DONE).status,
			 400);
	assert_int_equal(parse("GET /../a HTTP/2.0\r\n", HTTP_PROBE_DONE).status, 505);
}

/* Some header problems are refused as soon as their line is in, others once all are. */
static void test_header_checks_when(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /x HTTP/1.1\r\nHost: a/b\r\n", HTTP_PROBE_DONE).status, 400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nHost:\r\n", HTTP_PROBE_DONE).status, 400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			       "Transfer-Encoding: chunked\r\n",
			       HTTP_PROBE_DONE)
				 .status,
			 400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n",
			       HTTP_PROBE_DONE)
				 .status,
			 400);
	parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n", HTTP_PROBE_MORE);
	struct http_probe_req r = parse(
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", HTTP_PROBE_DONE);
	assert_int_equal(r.status, 400);
	assert_int_equal(r.body.left, 0);
}

/* Which answers come with a body to drop: those nginx gives once it has read the length. */
static void test_bodies(void **state)
{
	(void)state;
	struct http_probe_req r =
		parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n",
		      HTTP_PROBE_DONE);
	assert_int_equal(r.status, 413);
	assert_true(r.body.left == INT64_MAX);
	r = parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
		  HTTP_PROBE_DONE);
	assert_int_equal(r.status, 400);
	assert_int_equal(r.body.left, 0);
	r = parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: gzip\r\n\r\n",
		  HTTP_PROBE_DONE);
	assert_int_equal(r.status, 501);
	assert_int_equal(r.body.left, 3);
	r = parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		  HTTP_PROBE_DONE);
	assert_int_equal(r.status, 400);
	assert_int_equal(r.body.left, 3);
	assert_false(r.body.chunked);
	r = parse("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_PROBE_DONE);
	assert_int_equal(r.status, 400);
	assert_false(r.body.chunked);
	r = parse("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
		  HTTP_PROBE_DONE);
	assert_int_equal(r.status, 404);
	assert_true(r.body.chunked);
	assert_true(r.keep_alive);
	r = parse("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n", HTTP_PROBE_DONE); /* no Host */
	assert_int_equal(r.status, 400);
	assert_int_equal(r.body.left, 0);
}

/* Drops s from a chunked body (or one of left bytes); returns the result, *used the count. */
static enum http_probe_result drop(struct http_probe_body *b, const char *s, size_t *used)
{
	return http_probe_body_drop(b, (const uint8_t *)s, strlen(s), used);
}

static void test_length_body(void **state)
{
	(void)state;
	struct http_probe_body b = {.left = 10};
	size_t used;

	assert_int_equal(drop(&b, "abcd", &used), HTTP_PROBE_MORE);
	assert_int_equal(used, 4);
	assert_int_equal(drop(&b, "efghijGET /", &used), HTTP_PROBE_DONE);
	assert_int_equal(used, 6);
	assert_int_equal(drop(&b, "GET /", &used), HTTP_PROBE_DONE);
	assert_int_equal(used, 0);
}

static void test_chunked_body(void **state)
{
	(void)state;
	static const char *const whole[] = {
		"5\r\nabcde\r\n0\r\n\r\n",
		"5\nabcde\n0\n\n",
		"5;ext=1\r\nabcde\r\n0;x\r\nTrailer: y\r\n\r\n",
		"5 \r\nabcde\r\nA\r\n0123456789\r\n0\r\nX: y\n\r\n",
		"00000000000000000005\r\nabcde\r\n0\r\n\r\n",
		"0\r\n\r\n",
	};
	size_t used;

	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
		struct http_probe_body b = {.chunked = true};
		char buf[128];
		snprintf(buf, sizeof(buf), "%sGET /", whole[i]);
		assert_int_equal(drop(&b, buf, &used), HTTP_PROBE_DONE);
		assert_int_equal(used, strlen(whole[i]));
		struct http_probe_body c = {.chunked = true}; /* one byte at a time */
		for (size_t k = 0; k + 1 < strlen(whole[i]); k++) {
			assert_int_equal(
				http_probe_body_drop(&c, (const uint8_t *)whole[i] + k, 1, &used),
				HTTP_PROBE_MORE);
		}
		assert_int_equal(drop(&c, whole[i] + strlen(whole[i]) - 1, &used), HTTP_PROBE_DONE);
	}
}

/* nginx's limits: a size above 2^59 - 1 (refused at the byte after it), bad line ends. */
static void test_chunked_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"5\r\nabcdeXY", "\r\n5\r\n", "800000000000000\r\n", "8000000000000000", "5\r\r\n",
		"0\r\n\r\r",	"g\r\n"};
	static const char *const more[] = {"7ffffffffffffff\r\n", "fffffffffffffff", "5\r\nab"};
	size_t used;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_probe_body b = {.chunked = true};
		assert_int_equal(drop(&b, bad[i], &used), HTTP_PROBE_BAD);
	}
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		struct http_probe_body b = {.chunked = true};
		assert_int_equal(drop(&b, more[i], &used), HTTP_PROBE_MORE);
		assert_int_equal(used, strlen(more[i]));
	}
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

/* The answer to the request s (as plain HTTP on the TLS port: to_https) is want. */
static void check_answer(const char *s, bool to_https, bool last, const char *want)
{
	char out[HTTP_PROBE_ANSWER_MAX];
	struct http_probe_req r = parse(s, HTTP_PROBE_DONE);

	if (to_https)
		http_probe_to_https(&r);
	size_t n = http_probe_answer(&r, 0, last, out);
	out[n] = '\0';
	assert_string_equal(out, want);
}

static void test_answer_bytes(void **state)
{
	(void)state;
	check_answer("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", false, false,
		     "HTTP/1.1 404 Not Found\r\nServer: nginx\r\nDate: Thu, 01 Jan 1970 "
		     "00:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: "
		     "146\r\nConnection: keep-alive\r\n\r\n");
	check_answer("GET /x\r\n", false, true,
		     "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
		     "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx"
		     "</center>\r\n</body>\r\n</html>\r\n");
}

/* Plain HTTP on the TLS port: what reached nginx's request processing is a 497 that closes,
 * answered as nginx's 400 page for it; errors from reading the request stay. */
static void test_to_https(void **state)
{
	static const struct {
		const char *req;
		unsigned status;
	} cases[] = {
		{"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_TO_HTTPS},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_TO_HTTPS},
		{"PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PROBE_TO_HTTPS},
		{"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n",
		 HTTP_PROBE_TO_HTTPS},
		{"GET /x\r\n", HTTP_PROBE_TO_HTTPS},
		{"GET /x HTTP/1.1\r\n\r\n", 400},
		{"GET /../x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"GET / HTTP/2.0\r\n\r\n", 505},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_probe_req r = parse(cases[i].req, HTTP_PROBE_DONE);
		http_probe_to_https(&r);
		assert_int_equal(r.status, cases[i].status);
		assert_false(r.keep_alive);
	}
	check_answer("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", true, true,
		     "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nDate: Thu, 01 Jan 1970 "
		     "00:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: "
		     "248\r\nConnection: close\r\n\r\n");
	check_answer("GET /x\r\n", true, true,
		     "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS "
		     "port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1>"
		     "</center>\r\n<center>The plain HTTP request was sent to HTTPS port"
		     "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_incomplete_needs_more),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_answer_bytes),
		cmocka_unit_test(test_to_https),
		cmocka_unit_test(test_bad_path_needs_no_headers),
		cmocka_unit_test(test_header_checks_when),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_length_body),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_chunked_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
