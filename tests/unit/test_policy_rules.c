/* policy_rules: the rule file's syntax (every mistake at its line and column), first-match
 * order, networks and globs on names and addresses, ports and ranges, principal and key
 * rules, the --deny-private preset and its IPv4-mapped forms; policy_permits_allow. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy_rules.h"

static struct policy_rules *parse_ok(const char *text, bool deny_private)
{
	struct policy_rules *p = NULL;
	struct policy_rules_error err;

	int ret = policy_rules_parse(text, strlen(text), deny_private, &p, &err);
	if (ret != 0)
		fail_msg("%u:%u: %s", err.line, err.col, err.msg);
	return p;
}

static void parse_bad(const char *text, unsigned line, unsigned col, const char *msg)
{
	struct policy_rules *p = NULL;
	struct policy_rules_error err;

	assert_int_equal(policy_rules_parse(text, strlen(text), false, &p, &err), -EINVAL);
	assert_null(p);
	if (err.line != line || err.col != col || strstr(err.msg, msg) == NULL)
		fail_msg("'%s': got %u:%u: %s", text, err.line, err.col, err.msg);
}

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss = {0};

	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr),
				 1);
		ss.ss_family = AF_INET6;
	}
	return ss;
}

/* The address check of host resolving to a. */
static bool at(const struct policy_rules *p, const struct policy_subject *who, const char *host,
	       const char *a, uint16_t port)
{
	struct sockaddr_storage ss = addr(a);

	return policy_rules_addr(p, who, host, port, (const struct sockaddr *)&ss);
}

static enum policy_rules_verdict name(const struct policy_rules *p, const char *host, uint16_t port)
{
	return policy_rules_name(p, NULL, host, port, false);
}

static void test_issue_example(void **state)
{
	(void)state;
	const char *const ops[] = {"ops", NULL};
	const struct policy_subject who_ops = {.key_fp = "SHA256:x", .principals = ops};
	struct policy_rules *p = parse_ok("deny  to 169.254.0.0/16\n"
					  "deny  to 127.0.0.0/8, ::1   # loopback\n"
					  "allow principal ops to *:22\n"
					  "allow to *.internal.example.com:443\n"
					  "allow to 10.20.0.0/16:80-89\n"
					  "default deny\n",
					  false);

	assert_int_equal(policy_rules_count(p), 5);
	/* names: a glob decides; a network allow rule makes it depend on the address */
	assert_int_equal(name(p, "db.internal.example.com", 443), POLICY_RULES_ALLOW);
	assert_int_equal(name(p, "DB.Internal.Example.COM.", 443), POLICY_RULES_ALLOW);
	assert_int_equal(name(p, "db.internal.example.com", 80), POLICY_RULES_DEPENDS);
	assert_int_equal(name(p, "db.internal.example.com", 90), POLICY_RULES_DENY);
	assert_int_equal(name(p, "169.254.169.254", 80), POLICY_RULES_DENY);
	assert_int_equal(name(p, "10.20.3.4", 85), POLICY_RULES_ALLOW);
	assert_int_equal(name(p, "10.21.3.4", 85), POLICY_RULES_DENY);
	assert_int_equal(policy_rules_name(p, &who_ops, "any.host", 22, false), POLICY_RULES_ALLOW);
	assert_int_equal(name(p, "any.host", 22), POLICY_RULES_DENY);
	assert_int_equal(name(p, "any.host", 85), POLICY_RULES_DEPENDS);
	/* addresses: first match, with the name known */
	assert_true(at(p, NULL, "db.internal.example.com", "10.1.2.3", 443));
	assert_false(at(p, NULL, "db.internal.example.com", "127.0.0.1", 443)); /* rebinding */
	assert_false(at(p, NULL, "db.internal.example.com", "::1", 443));
	assert_false(at(p, NULL, "db.internal.example.com", "::ffff:127.0.0.1", 443));
	assert_true(at(p, NULL, "web", "10.20.255.1", 89));
	assert_false(at(p, NULL, "web", "10.20.255.1", 90));
	assert_false(at(p, NULL, "web", "10.21.0.1", 80));
	assert_true(at(p, &who_ops, "x", "192.0.2.1", 22));
	assert_false(at(p, &who_ops, "x", "169.254.169.254", 22));
	assert_false(at(p, NULL, "x", "192.0.2.1", 22));
	policy_rules_free(p);
}

static void test_first_match_wins(void **state)
{
	(void)state;
	struct policy_rules *p = parse_ok("allow to 127.0.0.1:22\ndeny to 127.0.0.0/8\n", false);

	assert_true(at(p, NULL, "h", "127.0.0.1", 22));
	assert_false(at(p, NULL, "h", "127.0.0.1", 23));
	assert_true(at(p, NULL, "h", "192.0.2.1", 23)); /* the default: allow */
	/* the name check passes deny networks over (the address check applies them) */
	assert_int_equal(name(p, "localhost", 23), POLICY_RULES_ALLOW);
	assert_false(at(p, NULL, "localhost", "127.0.0.1", 23));
	policy_rules_free(p);
}

static void test_ipv6_forms(void **state)
{
	(void)state;
	struct policy_rules *p =
		parse_ok("allow to [::1]:22, [2001:db8::/32]:443\ndeny to fe80::/10\n"
			 "default deny\n",
			 false);

	assert_true(at(p, NULL, "h", "::1", 22));
	assert_false(at(p, NULL, "h", "::1", 23));
	assert_true(at(p, NULL, "h", "2001:db8:1::5", 443));
	assert_false(at(p, NULL, "h", "2001:db9::5", 443));
	assert_int_equal(name(p, "::1", 22), POLICY_RULES_ALLOW);
	assert_int_equal(name(p, "fe80::1", 22), POLICY_RULES_DENY);
	policy_rules_free(p);
}

static void test_names_only(void **state)
{
	(void)state;
	struct policy_rules *p = parse_ok("allow to 10.0.0.0/8\nallow to *.ok:443\n"
					  "default deny\n",
					  false);

	/* through socks5h:// or http:// networks only match IP literals */
	assert_int_equal(policy_rules_name(p, NULL, "a.ok", 443, true), POLICY_RULES_ALLOW);
	assert_int_equal(policy_rules_name(p, NULL, "intranet", 80, true), POLICY_RULES_DENY);
	assert_int_equal(policy_rules_name(p, NULL, "10.1.1.1", 80, true), POLICY_RULES_ALLOW);
	assert_int_equal(name(p, "intranet", 80), POLICY_RULES_DEPENDS);
	policy_rules_free(p);
}

static void test_key_rules(void **state)
{
	(void)state;
	const struct policy_subject a = {.key_fp = "SHA256:abc"};
	const struct policy_subject b = {.key_fp = "SHA256:abd"};
	struct policy_rules *p =
		parse_ok("allow key SHA256:abc to *\ndeny principal x key SHA256:abd to *\n"
			 "default deny\n",
			 false);

	assert_true(at(p, &a, "h", "192.0.2.1", 1));
	assert_false(at(p, &b, "h", "192.0.2.1", 1));
	assert_false(at(p, NULL, "h", "192.0.2.1", 1));
	policy_rules_free(p);
}

static void test_deny_private(void **state)
{
	(void)state;
	static const char *const private[] = {
		"127.0.0.1",
		"127.1.2.3",
		"10.0.0.1",
		"172.16.0.1",
		"172.31.255.255",
		"192.168.1.1",
		"169.254.169.254",
		"100.64.0.1",
		"224.0.0.1",
		"0.0.0.0",
		"255.255.255.255",
		"::1",
		"::",
		"fe80::1",
		"fc00::1",
		"fd12::1",
		"ff02::1",
		"::ffff:127.0.0.1",
		"::ffff:10.1.1.1",
		"::ffff:169.254.169.254",
	};
	static const char *const public[] = {"192.0.2.1",   "8.8.8.8",	   "172.32.0.1",
					     "100.128.0.1", "2001:db8::1", "::ffff:8.8.8.8"};
	struct policy_rules *p = parse_ok("", true);

	for (size_t i = 0; i < sizeof(private) / sizeof(*private); i++) {
		if (at(p, NULL, "h", private[i], 80))
			fail_msg("%s allowed", private[i]);
	}
	for (size_t i = 0; i < sizeof(public) / sizeof(*public); i++) {
		if (!at(p, NULL, "h", public[i], 80))
			fail_msg("%s refused", public[i]);
	}
	policy_rules_free(p);
	/* the file's rules come first */
	p = parse_ok("allow to 127.0.0.1:8080\n", true);
	assert_true(at(p, NULL, "h", "127.0.0.1", 8080));
	assert_false(at(p, NULL, "h", "127.0.0.1", 8081));
	policy_rules_free(p);
	/* no file, no preset: everything */
	assert_int_equal(policy_rules_parse(NULL, 0, false, &p, &(struct policy_rules_error){0}),
			 0);
	assert_true(at(p, NULL, "h", "127.0.0.1", 1));
	policy_rules_free(p);
	assert_true(at(NULL, NULL, "h", "127.0.0.1", 1));
}

static void test_malformed(void **state)
{
	(void)state;
	parse_bad("permit to *\n", 1, 1, "expected allow, deny or default");
	parse_bad("# c\n\nallow to\n", 3, 9, "missing destination");
	parse_bad("allow *\n", 1, 7, "expected principal, key or to");
	parse_bad("allow\n", 1, 6, "missing: to");
	parse_bad("deny to 10.0.0.1/8\n", 1, 9, "bad address");
	parse_bad("deny to 10.0.0.0/33\n", 1, 9, "bad address");
	parse_bad("deny to 300.1.1.1\n", 1, 9, "bad address");
	parse_bad("deny to host:0\n", 1, 14, "bad port range");
	parse_bad("deny to host:70000\n", 1, 14, "bad port");
	parse_bad("deny to host:90-80\n", 1, 14, "bad port range");
	parse_bad("deny to host:a\n", 1, 14, "bad port");
	parse_bad("deny to host:1-\n", 1, 16, "bad port");
	parse_bad("deny to [::1\n", 1, 9, "missing ]");
	parse_bad("deny to [::1]x\n", 1, 14, "expected :PORT");
	parse_bad("deny to [::g]:1\n", 1, 10, "bad address");
	parse_bad("deny to a b\n", 1, 11, "expected , between");
	parse_bad("deny to a,,b\n", 1, 11, "missing destination");
	parse_bad("deny to a,\n", 1, 11, "missing destination");
	parse_bad("deny to ho$t\n", 1, 9, "bad host pattern");
	parse_bad("allow key abc to *\n", 1, 11, "fingerprint");
	parse_bad("allow key SHA256:a key SHA256:b to *\n", 1, 20, "given twice");
	parse_bad("allow principal\n", 1, 7, "needs a value");
	parse_bad("default\n", 1, 8, "default wants allow or deny");
	parse_bad("default maybe\n", 1, 9, "default wants");
	parse_bad("default deny\ndefault allow\n", 2, 9, "given twice (first on line 1)");
	parse_bad("default deny x\n", 1, 14, "unexpected text");
	parse_bad("allow to a\x01\n", 1, 11, "control character");
	parse_bad("allow to a\nallow to b\r\nallow to \x7f\n", 3, 10, "bad host pattern");

	struct policy_rules *p = NULL;
	struct policy_rules_error err;
	assert_int_equal(policy_rules_parse("allow to a\0b\n", 13, false, &p, &err), -EINVAL);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_permitopen_match(void **state)
{
	(void)state;
	struct policy_permit open[] = {
		{.host = "127.0.0.1", .port = 22},
		{.host = "::1", .port = POLICY_ANY_PORT},
		{.host = "*", .port = 8080},
	};
	struct policy_permits pm = {.forwarding = true, .n_open = 3, .open = open};

	assert_true(policy_permits_allow(&pm, "127.0.0.1", 22));
	assert_false(policy_permits_allow(&pm, "127.0.0.1", 23));
	assert_false(policy_permits_allow(&pm, "localhost", 22)); /* no lookup, text only */
	assert_true(policy_permits_allow(&pm, "::1", 1));
	assert_true(policy_permits_allow(&pm, "anything", 8080));
	assert_true(policy_permits_allow(NULL, "x", 1));
	pm.n_open = 0;
	assert_true(policy_permits_allow(&pm, "x", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_example), cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_ipv6_forms),    cmocka_unit_test(test_names_only),
		cmocka_unit_test(test_key_rules),     cmocka_unit_test(test_deny_private),
		cmocka_unit_test(test_malformed),     cmocka_unit_test(test_permitopen_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
