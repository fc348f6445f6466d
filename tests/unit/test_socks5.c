/* Unit tests for src/proxy/socks5.c: exact request bytes, and every reply fed one byte at a
 * time, alone and followed by tunnel data. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "proxy/socks5.h"

static void test_greeting(void **state)
{
	uint8_t out[4];

	(void)state;
	assert_int_equal(socks5_greeting(out, false), 3);
	assert_memory_equal(out, "\x05\x01\x00", 3);
	assert_int_equal(socks5_greeting(out, true), 4);
	assert_memory_equal(out, "\x05\x02\x00\x02", 4);
}

static void test_auth_request(void **state)
{
	uint8_t out[SOCKS5_MAX_REQUEST];
	char long_name[257];

	(void)state;
	assert_int_equal(socks5_auth_request(out, sizeof(out), "bob", "secret"), 12);
	assert_memory_equal(out,
			    "\x01\x03"
			    "bob"
			    "\x06"
			    "secret",
			    12);
	assert_int_equal(socks5_auth_request(out, sizeof(out), "bob", NULL), 6);
	assert_memory_equal(out,
			    "\x01\x03"
			    "bob"
			    "\x00",
			    6);
	assert_int_equal(socks5_auth_request(out, sizeof(out), "", "x"), -EINVAL);
	assert_int_equal(socks5_auth_request(out, sizeof(out), NULL, "x"), -EINVAL);
	assert_int_equal(socks5_auth_request(out, 11, "bob", "secret"), -EINVAL);
	memset(long_name, 'u', 255);
	long_name[255] = '\0';
	assert_int_equal(socks5_auth_request(out, sizeof(out), long_name, long_name), 513);
	assert_int_equal(out[1], 255);
	assert_int_equal(out[257], 255);
	long_name[255] = 'u';
	long_name[256] = '\0';
	assert_int_equal(socks5_auth_request(out, sizeof(out), long_name, "x"), -EINVAL);
	assert_int_equal(socks5_auth_request(out, sizeof(out), "x", long_name), -EINVAL);
}

static void test_addr_from_host(void **state)
{
	struct socks5_addr a;
	char name[257];

	(void)state;
	assert_int_equal(socks5_addr_from_host(&a, "192.0.2.7", 80, false), 0);
	assert_int_equal(a.atyp, SOCKS5_ATYP_IPV4);
	assert_int_equal(a.len, 4);
	assert_memory_equal(a.addr, "\xc0\x00\x02\x07", 4);
	assert_int_equal(a.port, 80);
	assert_int_equal(socks5_addr_from_host(&a, "2001:db8::1", 443, true), 0);
	assert_int_equal(a.atyp, SOCKS5_ATYP_IPV6);
	assert_int_equal(a.len, 16);
	assert_memory_equal(a.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	/* a name only where names are allowed (socks5h) */
	assert_int_equal(socks5_addr_from_host(&a, "example.com", 22, false), -EINVAL);
	assert_int_equal(socks5_addr_from_host(&a, "example.com", 22, true), 0);
	assert_int_equal(a.atyp, SOCKS5_ATYP_DOMAIN);
	assert_int_equal(a.len, 11);
	assert_memory_equal(a.addr, "example.com", 11);
	/* "127.1" is not a literal inet_pton accepts: it goes as a name */
	assert_int_equal(socks5_addr_from_host(&a, "127.1", 22, true), 0);
	assert_int_equal(a.atyp, SOCKS5_ATYP_DOMAIN);
	assert_int_equal(socks5_addr_from_host(&a, "", 22, true), -EINVAL);
	memset(name, 'n', 255);
	name[255] = '\0';
	assert_int_equal(socks5_addr_from_host(&a, name, 22, true), 0);
	assert_int_equal(a.len, 255);
	name[255] = 'n';
	name[256] = '\0';
	assert_int_equal(socks5_addr_from_host(&a, name, 22, true), -EINVAL);
}

static void test_addr_from_sockaddr(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1080)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct socks5_addr a;

	(void)state;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(socks5_addr_from_sockaddr(&a, (struct sockaddr *)&sin), 0);
	assert_int_equal(a.atyp, SOCKS5_ATYP_IPV4);
	assert_memory_equal(a.addr, "\x7f\0\0\x01", 4);
	assert_int_equal(a.port, 1080);
	sin6.sin6_addr = in6addr_loopback;
	assert_int_equal(socks5_addr_from_sockaddr(&a, (struct sockaddr *)&sin6), 0);
	assert_int_equal(a.atyp, SOCKS5_ATYP_IPV6);
	assert_memory_equal(a.addr, &in6addr_loopback, 16);
	assert_int_equal(a.port, 8080);
	assert_int_equal(socks5_addr_from_sockaddr(&a, (struct sockaddr *)&sun), -EAFNOSUPPORT);
}

static void test_connect_request(void **state)
{
	uint8_t out[SOCKS5_MAX_REPLY];
	struct socks5_addr a;

	(void)state;
	socks5_addr_from_host(&a, "10.1.2.3", 0x1234, false);
	assert_int_equal(socks5_connect_request(out, sizeof(out), &a), 10);
	assert_memory_equal(out, "\x05\x01\x00\x01\x0a\x01\x02\x03\x12\x34", 10);
	socks5_addr_from_host(&a, "::1", 22, false);
	assert_int_equal(socks5_connect_request(out, sizeof(out), &a), 22);
	assert_memory_equal(out, "\x05\x01\x00\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x16", 22);
	socks5_addr_from_host(&a, "only-the-proxy-knows.invalid", 443, true);
	assert_int_equal(socks5_connect_request(out, sizeof(out), &a), 35);
	assert_memory_equal(out,
			    "\x05\x01\x00\x03\x1c"
			    "only-the-proxy-knows.invalid"
			    "\x01\xbb",
			    35);
	assert_int_equal(socks5_connect_request(out, 34, &a), -EINVAL);
	assert_int_equal(socks5_connect_request(out, 2, &a), -EINVAL);
	a.atyp = (enum socks5_atyp)2;
	assert_int_equal(socks5_connect_request(out, sizeof(out), &a), -EINVAL);
}

static void test_method_byte_by_byte(void **state)
{
	const uint8_t msg[] = {5, 2, 'x', 'y'};
	uint8_t m = 0xaa;

	(void)state;
	assert_int_equal(socks5_parse_method(msg, 0, &m), 0);
	assert_int_equal(socks5_parse_method(msg, 1, &m), 0);
	assert_int_equal(m, 0xaa);
	assert_int_equal(socks5_parse_method(msg, 2, &m), 2);
	assert_int_equal(m, SOCKS5_METHOD_USERPASS);
	/* what follows is not consumed */
	assert_int_equal(socks5_parse_method(msg, 4, &m), 2);
	/* wrong version: caught at the first byte */
	assert_int_equal(socks5_parse_method((const uint8_t *)"\x04", 1, &m), -EPROTO);
	assert_int_equal(socks5_parse_method((const uint8_t *)"HTTP/1.1", 8, &m), -EPROTO);
}

static void test_auth_reply(void **state)
{
	uint8_t st = 0xaa;

	(void)state;
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x01", 1, &st), 0);
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x01\x00", 2, &st), 2);
	assert_int_equal(st, 0);
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x01\x01\x05", 3, &st), 2);
	assert_int_equal(st, 1);
	/* some servers echo the SOCKS version: accepted */
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x05\x00", 2, &st), 2);
	assert_int_equal(st, 0);
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x02", 1, &st), -EPROTO);
	assert_int_equal(socks5_parse_auth((const uint8_t *)"\x00\x00", 2, &st), -EPROTO);
}

/* Feeds msg[0..k) for every k: "need more" until the whole reply is there; then exactly its
 * length, also with tunnel bytes behind it. */
static void feed_reply(const uint8_t *msg, size_t len, struct socks5_reply *rep)
{
	uint8_t buf[SOCKS5_MAX_REPLY + 16];

	for (size_t k = 0; k < len; k++) {
		assert_int_equal(socks5_parse_reply(msg, k, rep), 0);
	}
	assert_int_equal(socks5_parse_reply(msg, len, rep), (int)len);
	memcpy(buf, msg, len);
	memcpy(buf + len, "tunnel-data", 11);
	assert_int_equal(socks5_parse_reply(buf, len + 11, rep), (int)len);
}

static void test_reply_ipv4(void **state)
{
	const uint8_t msg[] = {5, 0, 0, 1, 192, 0, 2, 9, 0x04, 0x38};
	struct socks5_reply rep;

	(void)state;
	feed_reply(msg, sizeof(msg), &rep);
	assert_int_equal(rep.rep, SOCKS5_REP_OK);
	assert_int_equal(rep.bnd.atyp, SOCKS5_ATYP_IPV4);
	assert_memory_equal(rep.bnd.addr, "\xc0\x00\x02\x09", 4);
	assert_int_equal(rep.bnd.port, 1080);
}

static void test_reply_ipv6(void **state)
{
	uint8_t msg[22] = {5, 0, 0, 4};
	struct socks5_reply rep;

	(void)state;
	for (int i = 0; i < 16; i++) {
		msg[4 + i] = (uint8_t)(i + 1);
	}
	msg[20] = 0xff;
	msg[21] = 0xfe;
	feed_reply(msg, sizeof(msg), &rep);
	assert_int_equal(rep.bnd.atyp, SOCKS5_ATYP_IPV6);
	assert_int_equal(rep.bnd.len, 16);
	assert_int_equal(rep.bnd.addr[15], 16);
	assert_int_equal(rep.bnd.port, 0xfffe);
}

static void test_reply_domain(void **state)
{
	uint8_t msg[5 + 255 + 2] = {5, 0, 0, 3, 255};
	struct socks5_reply rep;

	(void)state;
	memset(msg + 5, 'd', 255);
	msg[260] = 0;
	msg[261] = 80;
	feed_reply(msg, sizeof(msg), &rep);
	assert_int_equal(rep.bnd.atyp, SOCKS5_ATYP_DOMAIN);
	assert_int_equal(rep.bnd.len, 255);
	assert_int_equal(rep.bnd.addr[254], 'd');
	assert_int_equal(rep.bnd.port, 80);
	feed_reply((const uint8_t *)"\x05\x00\x00\x03\x01z\x00\x01", 8, &rep);
	assert_int_equal(rep.bnd.len, 1);
	assert_int_equal(rep.bnd.addr[0], 'z');
}

static void test_reply_failure_codes(void **state)
{
	struct socks5_reply rep;

	(void)state;
	feed_reply((const uint8_t *)"\x05\x05\x00\x01\0\0\0\0\0\0", 10, &rep);
	assert_int_equal(rep.rep, SOCKS5_REP_CONN_REFUSED);
	feed_reply((const uint8_t *)"\x05\x02\x00\x03\x02hi\0\0", 9, &rep);
	assert_int_equal(rep.rep, SOCKS5_REP_NOT_ALLOWED);
	/* RSV is not checked */
	feed_reply((const uint8_t *)"\x05\x00\x7f\x01\0\0\0\0\0\0", 10, &rep);
	assert_int_equal(rep.rep, SOCKS5_REP_OK);
}

static void test_reply_malformed(void **state)
{
	struct socks5_reply rep;

	(void)state;
	assert_int_equal(socks5_parse_reply((const uint8_t *)"\x04", 1, &rep), -EPROTO);
	assert_int_equal(socks5_parse_reply((const uint8_t *)"\x00\x5a", 2, &rep), -EPROTO);
	/* unknown ATYP: caught as soon as byte 4 is there */
	assert_int_equal(socks5_parse_reply((const uint8_t *)"\x05\x00\x00", 3, &rep), 0);
	assert_int_equal(socks5_parse_reply((const uint8_t *)"\x05\x00\x00\x02", 4, &rep), -EPROTO);
	assert_int_equal(socks5_parse_reply((const uint8_t *)"\x05\x00\x00\x00", 4, &rep), -EPROTO);
	assert_int_equal(socks5_parse_reply((const uint8_t *)"\x05\x00\x00\xff", 4, &rep), -EPROTO);
	/* empty domain name */
	assert_int_equal(
		socks5_parse_reply((const uint8_t *)"\x05\x00\x00\x03\x00\x00\x00", 7, &rep),
		-EPROTO);
}

static void test_rep_texts(void **state)
{
	(void)state;
	assert_string_equal(socks5_rep_text(SOCKS5_REP_FAILURE), "general failure");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_NOT_ALLOWED),
			    "connection not allowed by ruleset");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_NET_UNREACH), "network unreachable");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_HOST_UNREACH), "host unreachable");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_CONN_REFUSED), "connection refused");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_TTL_EXPIRED), "TTL expired");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_CMD_UNSUPPORTED), "command not supported");
	assert_string_equal(socks5_rep_text(SOCKS5_REP_ATYP_UNSUPPORTED),
			    "address type not supported");
	assert_string_equal(socks5_rep_text(9), "unknown error");
	assert_string_equal(socks5_rep_text(255), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_auth_request),
		cmocka_unit_test(test_addr_from_host),
		cmocka_unit_test(test_addr_from_sockaddr),
		cmocka_unit_test(test_connect_request),
		cmocka_unit_test(test_method_byte_by_byte),
		cmocka_unit_test(test_auth_reply),
		cmocka_unit_test(test_reply_ipv4),
		cmocka_unit_test(test_reply_ipv6),
		cmocka_unit_test(test_reply_domain),
		cmocka_unit_test(test_reply_failure_codes),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_rep_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
