/* authkeys_options_parse (sshd(8) AUTHORIZED_KEYS FILE FORMAT): flags and their order,
 * quoting, permitopen forms, from=, expiry-time, principals, inert options, and malformed
 * fields, each refused (the caller skips the line). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/authkeys_options.h"

static void parse_ok(const char *s, struct authkeys_opts *o)
{
	char err[128] = "";

	if (authkeys_options_parse(s, strlen(s), o, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", s, err);
}

static void parse_bad(const char *s, const char *why)
{
	struct authkeys_opts o;
	char err[128] = "";

	if (authkeys_options_parse(s, strlen(s), &o, err, sizeof(err)) != -EINVAL)
		fail_msg("'%s' accepted", s);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': '%s' lacks '%s'", s, err, why);
	authkeys_options_free(&o);
}

static void test_forwarding_flags(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool fwd;
	} cases[] = {
		{"", true},
		{"restrict", false},
		{"restrict,port-forwarding", true},
		{"port-forwarding,restrict", false},
		{"no-port-forwarding", false},
		{"NO-PORT-FORWARDING,Port-Forwarding", true},
		{"restrict,pty,no-pty,x11-forwarding,agent-forwarding,user-rc", false},
		{"command=\"/bin/false\",no-pty,no-X11-forwarding,no-agent-forwarding", true},
		{"environment=\"A=b\",tunnel=\"1\",permitlisten=\"8080\",no-user-rc", true},
		{"no-touch-required,verify-required", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct authkeys_opts o;
		parse_ok(cases[i].s, &o);
		if (o.permits.forwarding != cases[i].fwd)
			fail_msg("'%s': forwarding %d", cases[i].s, o.permits.forwarding);
		assert_int_equal(o.permits.n_open, 0);
		assert_false(o.cert_authority);
		authkeys_options_free(&o);
	}
}

static void test_permitopen(void **state)
{
	(void)state;
	struct authkeys_opts o;

	parse_ok("permitopen=\"127.0.0.1:22\",permitopen=\"[::1]:*\",permitopen=\"*:8080\","
		 "permitopen=\"host/443\"",
		 &o);
	assert_true(o.permits.forwarding);
	assert_int_equal(o.permits.n_open, 4);
	assert_string_equal(o.permits.open[0].host, "127.0.0.1");
	assert_int_equal(o.permits.open[0].port, 22);
	assert_string_equal(o.permits.open[1].host, "::1");
	assert_int_equal(o.permits.open[1].port, POLICY_ANY_PORT);
	assert_string_equal(o.permits.open[2].host, "*");
	assert_int_equal(o.permits.open[2].port, 8080);
	assert_string_equal(o.permits.open[3].host, "host");
	assert_true(policy_permits_allow(&o.permits, "::1", 9));
	assert_false(policy_permits_allow(&o.permits, "127.0.0.1", 23));
	authkeys_options_free(&o);
}

static void test_values(void **state)
{
	(void)state;
	struct authkeys_opts o;

	parse_ok(
		"cert-authority,principals=\"ops,dev\",from=\"10.0.0.0/8,!10.0.0.5\","
		"expiry-time=\"20300101Z\",expiry-time=\"202901010000Z\",command=\"a \\\"b,c\\\"\"",
		&o);
	assert_true(o.cert_authority);
	assert_string_equal(o.principals[0], "ops");
	assert_string_equal(o.principals[1], "dev");
	assert_null(o.principals[2]);
	assert_non_null(o.from);
	assert_int_equal(o.expiry, 1861920000); /* the earlier one: 2029-01-01 */
	authkeys_options_free(&o);
	authkeys_options_free(&o); /* idempotent */
}

static void test_expiry_time(void **state)
{
	(void)state;
	int64_t t = 0;

	assert_int_equal(authkeys_parse_time("20300101Z", &t), 0);
	assert_int_equal(t, 1893456000);
	assert_int_equal(authkeys_parse_time("203001010102z", &t), 0);
	assert_int_equal(t, 1893456000 + 3600 + 120);
	assert_int_equal(authkeys_parse_time("20300101010203Z", &t), 0);
	assert_int_equal(t, 1893456000 + 3600 + 120 + 3);
	assert_int_equal(authkeys_parse_time("20240229Z", &t), 0);
	setenv("TZ", "UTC", 1);
	assert_int_equal(authkeys_parse_time("20300101", &t), 0); /* local time, here UTC */
	assert_int_equal(t, 1893456000);
	static const char *const bad[] = {
		"",	     "Z",	 "2030010",   "203001011",	"2030-01-01",
		"20301301Z", "20300132", "20230229",  "20300101246000", "19691231Z",
		"20300101 ", "+0300101", "20300101ZZ"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (authkeys_parse_time(bad[i], &t) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static void test_malformed(void **state)
{
	(void)state;
	parse_bad("bogus", "unknown or misused option");
	parse_bad("restrict,", "ends with a comma");
	parse_bad(",restrict", "empty option");
	parse_bad("restrict,,pty", "empty option");
	parse_bad("restrict=\"x\"", "unknown or misused");
	parse_bad("from", "unknown or misused");
	parse_bad("no-restrict", "unknown or misused");
	parse_bad("no-cert-authority", "unknown or misused");
	parse_bad("no-verify-required", "unknown or misused");
	parse_bad("command=x", "missing start quote");
	parse_bad("command=\"x", "missing end quote");
	parse_bad("command=\"x\\\"", "missing end quote");
	parse_bad("command=\"x\"y", "unexpected characters");
	parse_bad("permitopen=\"host\"", "invalid permitopen");
	parse_bad("permitopen=\":22\"", "invalid permitopen");
	parse_bad("permitopen=\"h:0\"", "invalid permitopen");
	parse_bad("permitopen=\"h:65536\"", "invalid permitopen");
	parse_bad("permitopen=\"h:x\"", "invalid permitopen");
	parse_bad("permitopen=\"[::1]\"", "invalid permitopen");
	parse_bad("permitopen=\"[::1:22\"", "invalid permitopen");
	parse_bad("permitopen=\"a b:22\"", "invalid permitopen");
	parse_bad("from=\"\"", "invalid from=");
	parse_bad("from=\"10.0.0.1/8\"", "invalid from=");
	parse_bad("from=\"a\",from=\"b\"", "multiple from=");
	parse_bad("principals=\"a\",principals=\"b\"", "multiple principals=");
	parse_bad("expiry-time=\"2030\"", "invalid expiry-time");

	struct authkeys_opts o;
	char err[64];
	assert_int_equal(authkeys_options_parse("command=\"a\0b\"", 13, &o, err, sizeof(err)),
			 -EINVAL);
	authkeys_options_free(&o);
	/* a short buffer is fine; none at all too */
	assert_int_equal(authkeys_options_parse("bogus", 5, &o, err, 4), -EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(authkeys_options_parse("bogus", 5, &o, NULL, 0), -EINVAL);
	authkeys_options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarding_flags), cmocka_unit_test(test_permitopen),
		cmocka_unit_test(test_values),		 cmocka_unit_test(test_expiry_time),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
