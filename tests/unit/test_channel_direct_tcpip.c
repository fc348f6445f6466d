/* tcpip_parse_open: the direct-tcpip fields of CHANNEL_OPEN (RFC 4254 §7.2). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "channel_direct_tcpip.h"
#include "ssh/buf.h"

static void put_fields(struct sbuf *b, const char *host, size_t hlen, uint32_t port,
		       const char *orig, uint32_t oport)
{
	sbuf_put_string(b, host, hlen);
	sbuf_put_u32(b, port);
	sbuf_put_cstring(b, orig);
	sbuf_put_u32(b, oport);
}

static void test_parses_the_four_fields(void **state)
{
	struct sbuf b = {0};
	struct tcpip_open req;
	(void)state;

	put_fields(&b, "example.com", 11, 443, "192.0.2.1", 40000);
	assert_int_equal(tcpip_parse_open(b.data, b.len, &req), 0);
	assert_string_equal(req.host, "example.com");
	assert_int_equal(req.host_len, 11);
	assert_int_equal(req.port, 443);
	assert_int_equal(req.orig_port, 40000);
	sbuf_free(&b);
}

static void test_nul_or_long_host_shows_in_host_len(void **state)
{
	struct sbuf b = {0};
	struct tcpip_open req;
	char longhost[400];
	(void)state;

	put_fields(&b, "evil\0.com", 9, 80, "o", 1);
	assert_int_equal(tcpip_parse_open(b.data, b.len, &req), 0);
	assert_int_equal(req.host_len, 9);
	assert_int_equal(strlen(req.host), 4);
	assert_int_equal(policy_check(req.host, req.host_len, req.port), POLICY_INVALID);
	sbuf_reset(&b);

	memset(longhost, 'a', sizeof(longhost));
	put_fields(&b, longhost, sizeof(longhost), 80, "o", 1);
	assert_int_equal(tcpip_parse_open(b.data, b.len, &req), 0);
	assert_int_equal(req.host_len, sizeof(longhost));
	assert_int_equal(strlen(req.host), POLICY_MAX_HOST);
	assert_int_equal(policy_check(req.host, req.host_len, req.port), POLICY_INVALID);
	sbuf_free(&b);
}

static void test_truncated_or_trailing_bytes_are_malformed(void **state)
{
	struct sbuf b = {0};
	struct tcpip_open req;
	(void)state;

	put_fields(&b, "a", 1, 1, "b", 2);
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(tcpip_parse_open(b.data, n, &req), -EBADMSG);
	sbuf_put_u8(&b, 0);
	assert_int_equal(tcpip_parse_open(b.data, b.len, &req), -EBADMSG);
	assert_int_equal(tcpip_parse_open(NULL, 0, &req), -EBADMSG);
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_the_four_fields),
		cmocka_unit_test(test_nul_or_long_host_shows_in_host_len),
		cmocka_unit_test(test_truncated_or_trailing_bytes_are_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
