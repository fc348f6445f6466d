/* Unit tests for src/addrmatch.c: parsing address lists and matching peers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addrmatch.h"

static struct sockaddr_storage peer(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static bool matches(const struct addrmatch *m, const char *ip)
{
	struct sockaddr_storage ss = peer(ip);

	return addrmatch_match(m, &ss);
}

static struct addrmatch *parse_ok(const char *s, size_t n)
{
	struct addrmatch *m = NULL;
	char err[64] = "";

	assert_int_equal(addrmatch_parse(s, &m, err, sizeof(err)), 0);
	assert_non_null(m);
	assert_int_equal(m->n, n);
	return m;
}

static void parse_bad(const char *s, const char *why)
{
	struct addrmatch *m = NULL;
	char err[64] = "";

	assert_int_equal(addrmatch_parse(s, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	assert_string_equal(err, why);
}

static void test_single_addresses(void **state)
{
	(void)state;
	struct addrmatch *m = parse_ok("127.0.0.3", 1);
	assert_true(matches(m, "127.0.0.3"));
	assert_false(matches(m, "127.0.0.2"));
	assert_false(matches(m, "::1"));
	addrmatch_free(m);
	m = parse_ok("::1", 1);
	assert_true(matches(m, "::1"));
	assert_false(matches(m, "::2"));
	assert_false(matches(m, "0.0.0.1"));
	addrmatch_free(m);
}

static void test_networks_and_blanks(void **state)
{
	(void)state;
	struct addrmatch *m = parse_ok(" 10.0.0.0/8 ,192.168.1.0/24,\t2001:db8::/32 ", 3);
	assert_true(matches(m, "10.255.1.2"));
	assert_false(matches(m, "11.0.0.1"));
	assert_true(matches(m, "192.168.1.77"));
	assert_false(matches(m, "192.168.2.1"));
	assert_true(matches(m, "2001:db8:ffff::1"));
	assert_false(matches(m, "2001:db9::1"));
	addrmatch_free(m);
}

static void test_odd_prefixes(void **state)
{
	(void)state;
	struct addrmatch *m = parse_ok("0.0.0.0/0,192.0.2.128/25", 2);
	assert_true(matches(m, "8.8.8.8")); /* /0: every IPv4 address ... */
	assert_false(matches(m, "::1"));    /* ... and no IPv6 one */
	addrmatch_free(m);
	m = parse_ok("192.0.2.128/25,2001:db8::8000/113", 2);
	assert_true(matches(m, "192.0.2.200"));
	assert_false(matches(m, "192.0.2.127"));
	assert_true(matches(m, "2001:db8::ffff"));
	assert_false(matches(m, "2001:db8::7fff"));
	addrmatch_free(m);
}

/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: IPv4 rules apply to them. */
static void test_v4_mapped(void **state)
{
	(void)state;
	struct addrmatch *m = parse_ok("127.0.0.0/8", 1);
	assert_true(matches(m, "::ffff:127.0.0.9"));
	assert_false(matches(m, "::ffff:128.0.0.1"));
	addrmatch_free(m);
	m = parse_ok("::ffff:192.0.2.0/120", 1);
	assert_int_equal(m->net[0].family, AF_INET);
	assert_int_equal(m->net[0].prefix, 24);
	assert_true(matches(m, "192.0.2.1"));
	assert_true(matches(m, "::ffff:192.0.2.1"));
	addrmatch_free(m);
}

static void test_malformed(void **state)
{
	(void)state;
	parse_bad("", "empty entry");
	parse_bad("127.0.0.1,", "empty entry");
	parse_bad(",127.0.0.1", "empty entry");
	parse_bad("127.0.0.1,,::1", "empty entry");
	parse_bad("localhost", "not an IPv4 or IPv6 address");
	parse_bad("127.0.0.1/33", "bad prefix length");
	parse_bad("::1/129", "bad prefix length");
	parse_bad("10.0.0.0/", "bad prefix length");
	parse_bad("10.0.0.0/08", "bad prefix length");
	parse_bad("10.0.0.0/-8", "bad prefix length");
	parse_bad("10.0.0.0/8/8", "bad prefix length");
	parse_bad("10.0.0.1/8", "address has bits set below the prefix");
	parse_bad("2001:db8::1/64", "address has bits set below the prefix");
	parse_bad("1.2.3.4 5.6.7.8", "not an IPv4 or IPv6 address");
	char big[200];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	parse_bad(big, "entry too long");
}

static void test_list_bound(void **state)
{
	(void)state;
	static char s[ADDRMATCH_MAX * 16 + 16];
	size_t off = 0;
	for (int i = 0; i < ADDRMATCH_MAX; i++)
		off += (size_t)sprintf(s + off, "%s10.0.%d.%d", i ? "," : "", i / 256, i % 256);
	struct addrmatch *m = parse_ok(s, ADDRMATCH_MAX);
	assert_true(matches(m, "10.0.3.255"));
	addrmatch_free(m);
	strcat(s, ",10.9.9.9");
	parse_bad(s, "too many entries");
}

static void test_null_list_and_mask(void **state)
{
	(void)state;
	assert_false(matches(NULL, "127.0.0.1"));
	uint8_t a[16];
	memset(a, 0xff, sizeof(a));
	addrmatch_mask(AF_INET6, a, 64);
	for (int i = 0; i < 16; i++)
		assert_int_equal(a[i], i < 8 ? 0xff : 0);
	memset(a, 0xff, sizeof(a));
	addrmatch_mask(AF_INET, a, 20);
	assert_int_equal(a[1], 0xff);
	assert_int_equal(a[2], 0xf0);
	assert_int_equal(a[3], 0);
	assert_int_equal(a[4], 0xff); /* past an IPv4 address: untouched */
}

/* from= pattern lists: OpenSSH's match_host_and_ip with the address as the host. */
static bool pat_match(const char *list, const char *ip)
{
	struct addrmatch_patterns *p = NULL;
	char err[128];
	struct sockaddr_storage ss = peer(ip);

	if (addrmatch_parse_patterns(list, &p, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", list, err);
	bool m = addrmatch_patterns_match(p, &ss);
	addrmatch_patterns_free(p);
	return m;
}

static void test_patterns(void **state)
{
	(void)state;
	assert_true(pat_match("127.0.0.1", "127.0.0.1"));
	assert_false(pat_match("127.0.0.1", "127.0.0.2"));
	assert_true(pat_match("192.168.1.*", "192.168.1.77"));
	assert_false(pat_match("192.168.1.*", "192.168.10.1"));
	assert_true(pat_match("192.168.1.?", "192.168.1.7"));
	assert_true(pat_match("10.0.0.0/8, 127.0.0.0/8", "127.9.9.9"));
	assert_false(pat_match("!127.0.0.2,127.0.0.0/8", "127.0.0.2"));
	assert_true(pat_match("!127.0.0.2,127.0.0.0/8", "127.0.0.3"));
	assert_false(pat_match("127.0.0.0/8,!127.0.0.*", "127.0.0.3")); /* a negation anywhere */
	assert_false(pat_match("!127.0.0.2", "127.0.0.3"));		/* nothing positive */
	assert_true(pat_match("::1", "::1"));
	assert_true(pat_match("2001:db8::/32", "2001:db8:5::1"));
	assert_true(pat_match("127.0.0.1", "::ffff:127.0.0.1"));
	assert_true(pat_match("127.0.0.*", "::ffff:127.0.0.1"));
	assert_false(pat_match("*.example.com", "127.0.0.1")); /* no reverse DNS */
	assert_true(pat_match("*", "192.0.2.1"));
	assert_true(addrmatch_glob("A*b?C", "aXXbyc"));
	assert_false(addrmatch_glob("a*b", "aXXbc"));
	assert_true(addrmatch_glob("**", ""));

	static const char *const bad[] = {"",	 ",",	       "a,",	      "!",
					  "!!a", "10.0.0.1/8", "10.0.0.0/33", "1.2.3.4.5",
					  "a b", "a\tb",       "::12345/64"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct addrmatch_patterns *p = NULL;
		char err[128];
		if (addrmatch_parse_patterns(bad[i], &p, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_null(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_addresses),
		cmocka_unit_test(test_networks_and_blanks),
		cmocka_unit_test(test_odd_prefixes),
		cmocka_unit_test(test_v4_mapped),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_list_bound),
		cmocka_unit_test(test_null_list_and_mask),
		cmocka_unit_test(test_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
