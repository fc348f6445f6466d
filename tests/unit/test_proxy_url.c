/* Unit tests for src/proxy/proxy_url.c: schemes, hosts, ports, credentials, error texts that
 * never show the password, and the log description. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/proxy_url.h"

static struct proxy_url *parse_ok(const char *s)
{
	struct proxy_url *u = NULL;
	char err[160] = "";

	if (proxy_url_parse(s, &u, err, sizeof(err)) != 0) {
		fail_msg("%s: %s", s, err);
	}
	assert_non_null(u);
	return u;
}

/* Fails with an error containing `want`, and never the secret "hunter2". */
static void parse_fails(const char *s, const char *want)
{
	struct proxy_url *u = NULL;
	char err[160] = "";

	assert_int_equal(proxy_url_parse(s, &u, err, sizeof(err)), -EINVAL);
	assert_null(u);
	if (strstr(err, want) == NULL) {
		fail_msg("%s: error '%s' lacks '%s'", s, err, want);
	}
	assert_null(strstr(err, "hunter2"));
}

static void test_schemes(void **state)
{
	struct proxy_url *u;

	(void)state;
	u = parse_ok("socks5://127.0.0.1:1080");
	assert_int_equal(u->scheme, PROXY_SOCKS5);
	assert_string_equal(u->host, "127.0.0.1");
	assert_int_equal(u->port, 1080);
	assert_null(u->user);
	assert_null(u->pass);
	proxy_url_free(u);
	u = parse_ok("socks5h://proxy.example:9050");
	assert_int_equal(u->scheme, PROXY_SOCKS5H);
	assert_string_equal(u->host, "proxy.example");
	proxy_url_free(u);
	u = parse_ok("HTTP://Proxy_1.example:3128/");
	assert_int_equal(u->scheme, PROXY_HTTP);
	assert_string_equal(u->host, "Proxy_1.example");
	assert_int_equal(u->port, 3128);
	proxy_url_free(u);
	parse_fails("https://p:1", "unknown proxy scheme");
	parse_fails("socks4://p:1", "unknown proxy scheme");
	parse_fails("socks5:/p:1", "unknown proxy scheme");
	parse_fails("127.0.0.1:1080", "unknown proxy scheme");
	parse_fails("", "unknown proxy scheme");
}

static void test_ipv6_host(void **state)
{
	struct proxy_url *u = parse_ok("socks5h://[::1]:1080");

	(void)state;
	assert_string_equal(u->host, "::1");
	assert_int_equal(u->port, 1080);
	proxy_url_free(u);
	u = parse_ok("http://u:p@[2001:db8::2]:8080");
	assert_string_equal(u->host, "2001:db8::2");
	proxy_url_free(u);
	parse_fails("socks5://[::1:1080", "unclosed");
	parse_fails("socks5://[::1]", "needs a port");
	parse_fails("socks5://[::1]1080", "needs a port");
	parse_fails("socks5://[]:1080", "no host");
	parse_fails("socks5://[nope]:1080", "not a valid name or address");
	parse_fails("socks5://::1:1080", "brackets");
}

static void test_ports(void **state)
{
	struct proxy_url *u = parse_ok("socks5://h:65535");

	(void)state;
	assert_int_equal(u->port, 65535);
	proxy_url_free(u);
	u = parse_ok("socks5://h:1");
	assert_int_equal(u->port, 1);
	proxy_url_free(u);
	parse_fails("socks5://h", "needs a port");
	parse_fails("socks5://h/", "needs a port");
	parse_fails("socks5://h:", "port must be");
	parse_fails("socks5://h:0", "port must be");
	parse_fails("socks5://h:65536", "port must be");
	parse_fails("socks5://h:-1", "port must be");
	parse_fails("socks5://h:+1", "port must be");
	parse_fails("socks5://h: 1", "port must be");
	parse_fails("socks5://h:1x", "port must be");
	parse_fails("socks5://h:1/path", "port must be");
	parse_fails("socks5://h:99999999999999999999", "port must be");
}

static void test_hosts(void **state)
{
	(void)state;
	parse_fails("socks5://:1080", "no host");
	parse_fails("socks5://u:hunter2@:1080", "no host");
	parse_fails("socks5://bad host:1080", "not a valid name");
	parse_fails("socks5://bad/host:1080", "not a valid name");
	parse_fails("socks5://h%41:1080", "not a valid name");
}

static void test_credentials_decoded(void **state)
{
	struct proxy_url *u = parse_ok("socks5://b%6Fb:p%40ss%3Aw%2fd@h:1080");

	(void)state;
	assert_string_equal(u->user, "bob");
	assert_string_equal(u->pass, "p@ss:w/d");
	proxy_url_free(u);
	/* an unescaped '@' in the password: the last '@' ends the user info */
	u = parse_ok("http://user:a@b@h:3128");
	assert_string_equal(u->user, "user");
	assert_string_equal(u->pass, "a@b");
	assert_string_equal(u->host, "h");
	proxy_url_free(u);
	u = parse_ok("socks5://user@h:1");
	assert_string_equal(u->user, "user");
	assert_null(u->pass);
	proxy_url_free(u);
	u = parse_ok("socks5://user:@h:1");
	assert_string_equal(u->pass, "");
	proxy_url_free(u);
	/* "@host" carries no credentials */
	u = parse_ok("socks5://@h:1");
	assert_null(u->user);
	proxy_url_free(u);
	/* HTTP Basic allows an empty user name */
	u = parse_ok("http://:hunter2@h:1");
	assert_string_equal(u->user, "");
	assert_string_equal(u->pass, "hunter2");
	proxy_url_free(u);
}

static void test_credentials_rejected(void **state)
{
	char url[700];
	char long_part[300];

	(void)state;
	parse_fails("socks5://u:hunter2%zz@h:1", "%-escape");
	parse_fails("socks5://u:hunter2%4@h:1", "%-escape");
	parse_fails("socks5://u:hunter2%@h:1", "%-escape");
	parse_fails("socks5://u:hunter2%00@h:1", "%-escape");
	parse_fails("socks5://u%:hunter2@h:1", "%-escape");
	parse_fails("http://a%3Ab:hunter2@h:1", "must not contain ':'");
	parse_fails("socks5://:hunter2@h:1", "1 to 255");
	memset(long_part, 'x', 256);
	long_part[256] = '\0';
	snprintf(url, sizeof(url), "socks5h://%s:hunter2@h:1", long_part);
	parse_fails(url, "1 to 255");
	snprintf(url, sizeof(url), "socks5://u:hunter2%s@h:1", long_part);
	parse_fails(url, "1 to 255");
	long_part[255] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:%s@h:1", long_part, long_part);
	proxy_url_free(parse_ok(url));
	/* HTTP has no such limit */
	memset(long_part, 'y', 299);
	long_part[299] = '\0';
	snprintf(url, sizeof(url), "http://%s:%s@h:1", long_part, long_part);
	proxy_url_free(parse_ok(url));
}

static void check_describe(const char *url, const char *want)
{
	struct proxy_url *u = parse_ok(url);
	char out[300];

	proxy_url_describe(u, out, sizeof(out));
	assert_string_equal(out, want);
	proxy_url_free(u);
}

static void test_describe_hides_password(void **state)
{
	(void)state;
	check_describe("socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080");
	check_describe("SOCKS5H://bob:hunter2@h:9050/", "socks5h://bob@h:9050");
	check_describe("http://u:hunter2@[::1]:3128", "http://u@[::1]:3128");
	/* a decoded user name is encoded again: the log line stays one line */
	check_describe("http://a%0Ab%20c:hunter2@h:1", "http://a%0Ab%20c@h:1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schemes),
		cmocka_unit_test(test_ipv6_host),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_credentials_decoded),
		cmocka_unit_test(test_credentials_rejected),
		cmocka_unit_test(test_describe_hides_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
