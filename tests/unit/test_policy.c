/* policy_check: reserved names, invalid destinations, ordinary ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static enum policy_verdict check(const char *host, uint32_t port)
{
	return policy_check(host, strlen(host), port);
}

static void test_allows_names_and_addresses(void **state)
{
	(void)state;
	assert_int_equal(check("example.com", 443), POLICY_ALLOW);
	assert_int_equal(check("127.0.0.1", 1), POLICY_ALLOW);
	assert_int_equal(check("::1", 65535), POLICY_ALLOW);
	assert_int_equal(check("alknet", 22), POLICY_ALLOW);
	assert_int_equal(check("my-alknet-host", 22), POLICY_ALLOW);
}

static void test_reserved_prefix_any_case(void **state)
{
	(void)state;
	assert_int_equal(check("alknet-control", 22), POLICY_RESERVED);
	assert_int_equal(check("ALKNET-x", 80), POLICY_RESERVED);
	assert_int_equal(check("Alknet-", 1), POLICY_RESERVED);
	/* reserved wins even with a port that would otherwise be invalid */
	assert_int_equal(check("alknet-other", 0), POLICY_RESERVED);
	assert_int_equal(check("alknet-control", 1), POLICY_RESERVED);
	assert_int_equal(check("alknet-control", 65536), POLICY_RESERVED);
	assert_int_equal(check("alknet-controller", 0), POLICY_RESERVED);
}

/* alknet-control:0 is the control channel, in any case; nothing else is. */
static void test_control_destination(void **state)
{
	(void)state;
	assert_int_equal(check("alknet-control", 0), POLICY_CONTROL);
	assert_int_equal(check("ALKNET-Control", 0), POLICY_CONTROL);
	assert_int_equal(policy_check("alknet-control", 15, 0), POLICY_INVALID); /* NUL inside */
	assert_string_equal(policy_reason_text(POLICY_CONTROL), "reserved destination");
}

static void test_invalid_destinations(void **state)
{
	char long_host[300];

	(void)state;
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	assert_int_equal(check("", 80), POLICY_INVALID);
	assert_int_equal(check(long_host, 80), POLICY_INVALID);
	long_host[255] = '\0';
	assert_int_equal(check(long_host, 80), POLICY_ALLOW);
	long_host[255] = 'a';
	long_host[256] = '\0';
	assert_int_equal(check(long_host, 80), POLICY_INVALID);
	assert_int_equal(check("example.com", 0), POLICY_INVALID);
	assert_int_equal(check("example.com", 65536), POLICY_INVALID);
	assert_int_equal(check("exa mple.com", 80), POLICY_INVALID);
	assert_int_equal(check("example.com\n", 80), POLICY_INVALID);
	/* a NUL inside: the wire length is longer than the C string */
	assert_int_equal(policy_check("alknet-x", 12, 80), POLICY_INVALID);
	assert_int_equal(policy_check("example", 9, 80), POLICY_INVALID);
}

static void test_reason_texts(void **state)
{
	(void)state;
	assert_string_equal(policy_reason_text(POLICY_RESERVED), "reserved destination");
	assert_string_equal(policy_reason_text(POLICY_INVALID), "invalid destination");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allows_names_and_addresses),
		cmocka_unit_test(test_reserved_prefix_any_case),
		cmocka_unit_test(test_control_destination),
		cmocka_unit_test(test_invalid_destinations),
		cmocka_unit_test(test_reason_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
