/* Unit tests for src/net.c: address parsing, listening sockets, options. Loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "net.h"

static void check_v4(const char *s, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	struct in_addr want;

	assert_int_equal(net_parse_addr(s, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ss.ss_family, AF_INET);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	assert_int_equal(ntohs(sin->sin_port), port);
	assert_int_equal(inet_pton(AF_INET, ip, &want), 1);
	assert_memory_equal(&sin->sin_addr, &want, sizeof(want));
}

static void check_v6(const char *s, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	struct in6_addr want;

	assert_int_equal(net_parse_addr(s, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ss.ss_family, AF_INET6);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_int_equal(inet_pton(AF_INET6, ip, &want), 1);
	assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
	assert_int_equal(sin6->sin6_scope_id, 0);
	assert_int_equal(sin6->sin6_flowinfo, 0);
}

static void test_parse_good(void **state)
{
	(void)state;
	check_v4("127.0.0.1:22", "127.0.0.1", 22);
	check_v4("0.0.0.0:65535", "0.0.0.0", 65535);
	check_v4("10.1.2.3:1", "10.1.2.3", 1);
	check_v6("[::1]:2222", "::1", 2222);
	check_v6("[::]:1", "::", 1);
	check_v6("[2001:db8::5]:443", "2001:db8::5", 443);
	check_v6("[::ffff:192.0.2.1]:80", "::ffff:192.0.2.1", 80);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:99999999",
		"127.0.0.1:-1",
		"127.0.0.1:+22",
		"127.0.0.1:22x",
		"127.0.0.1: 22",
		" 127.0.0.1:22",
		"127.0.0.1:22 ",
		"localhost:22",
		"example.com:80",
		"[::1]",
		"[::1]:",
		"::1:22",
		"::1",
		"[127.0.0.1]:22",
		"1.2.3:22",
		"256.1.1.1:22",
		"[::1:22",
		"::1]:22",
		"[::1]x22",
		":22",
		"[]:22",
		"[fe80::1%eth0]:22",
		"1.2.3.4:2 2",
		"[::1]:22:",
		"1.2.3.4:22:33",
		"[[::1]]:22",
		"[::1]]:22",
		"[::g]:22",
		"1.2.3.4.5:22",
		"[0123456789abcdef0123456789abcdef0123456789abcdef]:1",
	};
	struct sockaddr_storage ss;
	socklen_t len = 77;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_parse_addr(bad[i], &ss, &len) != -EINVAL) {
			fail_msg("accepted \"%s\"", bad[i]);
		}
	}
	assert_int_equal(len, 77);
	assert_int_equal(net_parse_addr(NULL, &ss, &len), -EINVAL);
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET) {
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Listens on s, checks flags and options, and that a blocking client can connect. */
static void listen_and_connect(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int opt = 0;
	socklen_t optlen = sizeof(opt);

	assert_int_equal(net_parse_addr(s, &ss, &len), 0);
	((struct sockaddr_in *)&ss)->sin_port = 0; /* same offset in sockaddr_in6 */
	int fd = net_listen(&ss, len, 16);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &opt, &optlen), 0);
	assert_int_not_equal(opt, 0);
	if (ss.ss_family == AF_INET6) {
		assert_int_equal(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &opt, &optlen), 0);
		assert_int_equal(opt, 1);
	}
	uint16_t port = bound_port(fd);
	assert_int_not_equal(port, 0);
	((struct sockaddr_in *)&ss)->sin_port = htons(port);

	int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	int a = accept(fd, NULL, NULL);
	assert_true(a >= 0);

	/* A second listener on the same port fails with EADDRINUSE and leaks nothing. */
	int fd2 = net_listen(&ss, len, 16);
	assert_int_equal(fd2, -EADDRINUSE);
	close(a);
	close(c);
	close(fd);
}

static void test_listen_v4(void **state)
{
	(void)state;
	listen_and_connect("127.0.0.1:1");
}

static void test_listen_v6(void **state)
{
	(void)state;
	listen_and_connect("[::1]:1");
}

static void test_set_nonblock_nodelay(void **state)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int opt = 0;
	socklen_t optlen = sizeof(opt);
	int p[2];

	(void)state;
	assert_true(fd >= 0);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(net_set_nonblock(fd), 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(net_set_nonblock(fd), 0);
	assert_int_equal(net_set_nodelay(fd), 0);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &opt, &optlen), 0);
	assert_int_not_equal(opt, 0);
	close(fd);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(net_set_nodelay(p[0]), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	assert_int_equal(net_set_nonblock(-1), -EBADF);
}

static void test_addr_str(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char out[64];

	(void)state;
	assert_int_equal(net_parse_addr("203.0.113.5:80", &ss, &len), 0);
	net_addr_str(&ss, out, sizeof(out));
	assert_string_equal(out, "203.0.113.5");
	assert_int_equal(net_parse_addr("[::1]:80", &ss, &len), 0);
	net_addr_str(&ss, out, sizeof(out));
	assert_string_equal(out, "::1");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	net_addr_str(&ss, out, sizeof(out));
	assert_string_equal(out, "?");
}

static void test_raise_nofile(void **state)
{
	struct rlimit rl;
	long n = net_raise_nofile();

	(void)state;
	assert_true(n > 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal((long)rl.rlim_cur, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_listen_v4),
		cmocka_unit_test(test_listen_v6),
		cmocka_unit_test(test_set_nonblock_nodelay),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_raise_nofile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
