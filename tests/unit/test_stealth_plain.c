/* Unit tests for the stealth transport's plain layer under TLS (src/transport/stealth.c,
 * transport_stealth_plain_new) on a socketpair: a first byte that starts TLS (a handshake
 * record, an SSLv2 hello) passes through with the bytes read ahead buffered and announced by a
 * TRANSPORT_READ of its own; anything else is answered as plain HTTP sent to nginx's HTTPS port
 * and the owner gets an error (after nginx's lingering close when bytes were left unread); no
 * clock of its own before the first byte; shut passes down. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_env.c"

#include "loop.h"
#include "net.h"
#include "transport/stealth.h"
#include "transport/tcp.h"

struct owner {
	struct loop *l;
	struct transport *t;
	unsigned read_events, error_events;
	int read_errno; /* what a read said after the error */
};

/* Stops the loop at each event; an error closes the transport, as the session does. */
static void on_io(void *ctx, unsigned events)
{
	struct owner *o = ctx;
	char c;

	if (events & TRANSPORT_READ)
		o->read_events++;
	if (events & TRANSPORT_ERROR) {
		o->error_events++;
		errno = 0;
		assert_int_equal(transport_read(o->t, &c, 1), -1);
		o->read_errno = errno;
		assert_int_equal(transport_buffered(o->t), 0);
		assert_int_equal(transport_write(o->t, "x", 1), -1);
		transport_close(o->t);
		o->t = NULL;
	}
	loop_stop(o->l);
}

/* A loop, a socketpair (sv[0] the transport's, sv[1] the client's) and the plain layer. */
static struct owner *start(int sv[2])
{
	struct owner *o = calloc(1, sizeof(*o));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	net_set_nonblock(sv[0]);
	o->l = loop_new();
	struct transport *tcp = transport_tcp_new(o->l, sv[0], NULL, NULL);
	assert_non_null(tcp);
	o->t = transport_stealth_plain_new(o->l, tcp, "192.0.2.9");
	transport_set_owner(o->t, on_io, o); /* what TLS does when it is made over it */
	transport_want(o->t, TRANSPORT_READ);
	return o;
}

static void finish(struct owner *o, int client)
{
	if (o->t)
		transport_close(o->t);
	run_for(o->l, 10); /* the deferred frees */
	close(client);
	loop_free(o->l);
	free(o);
}

static void send_all(int fd, const void *b, size_t n)
{
	assert_int_equal(send(fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* first: the client's first bytes, which start TLS. */
static void check_passed_through(const char *first, size_t n)
{
	int sv[2];
	struct owner *o = start(sv);
	char buf[64];

	send_all(sv[1], first, n);
	run_for(o->l, 0);
	assert_int_equal(o->error_events, 0);
	assert_int_equal(o->read_events, 1);
	/* Every byte read ahead is the owner's, first, unchanged. */
	assert_int_equal(transport_buffered(o->t), n);
	assert_int_equal(transport_read(o->t, buf, 1), 1);
	assert_int_equal((uint8_t)buf[0], (uint8_t)first[0]);
	assert_int_equal(transport_buffered(o->t), n - 1);
	if (n > 1) {
		assert_int_equal(transport_read(o->t, buf, sizeof(buf)), (ssize_t)(n - 1));
		assert_memory_equal(buf, first + 1, n - 1);
	}
	assert_int_equal(transport_buffered(o->t), 0);
	assert_int_equal(transport_read(o->t, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	/* Then straight through, both ways. */
	send_all(sv[1], "more", 4);
	run_for(o->l, 0);
	assert_int_equal(o->read_events, 2);
	assert_int_equal(transport_read(o->t, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "more", 4);
	assert_int_equal(transport_write(o->t, "\x16\x03\x03", 3), 3);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "\x16\x03\x03", 3);
	finish(o, sv[1]);
}

static void test_tls_record_passes(void **state)
{
	(void)state;
	check_passed_through("\x16\x03\x01\x02\x00\x01", 6);
	check_passed_through("\x16", 1);
}

static void test_sslv2_hello_passes(void **state)
{
	(void)state;
	check_passed_through("\x80\x2e\x01\x00\x02", 5);
}

/* The client is done sending: runs until the probe is over for the owner (at once, or at the
 * end of a lingering close), then reads what the client got up to the end of the stream (a
 * NUL after it). */
static void read_answer(struct owner *o, int client, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	shutdown(client, SHUT_WR);
	run_for(o->l, 0);
	assert_int_equal(o->error_events, 1);
	run_for(o->l, 10); /* the deferred close */
	while ((n = recv(client, buf + got, len - 1 - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	buf[got] = '\0';
}

static void test_plain_http_answered(void **state)
{
	int sv[2];
	int fds = count_fds();
	struct owner *o = start(sv);
	static const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\n";
	char buf[1024];

	(void)state;
	send_all(sv[1], req, sizeof(req) - 1);
	read_answer(o, sv[1], buf, sizeof(buf));
	/* One answer, the first request's, and the connection closes. */
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nDate: "));
	assert_non_null(strstr(buf, "\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 The "
				    "plain HTTP request was sent to HTTPS port</title>"));
	assert_null(strstr(buf + 1, "HTTP/1.1"));
	/* The owner never saw a byte of it, and learnt the connection ended. */
	assert_int_equal(o->read_events, 0);
	assert_int_equal(o->read_errno, ECONNRESET);
	finish(o, sv[1]);
	assert_int_equal(count_fds(), fds);
}

static void test_malformed_answered(void **state)
{
	int sv[2];
	struct owner *o = start(sv);
	char buf[1024];

	(void)state;
	send_all(sv[1], "SSH-2.0-OpenSSH_9.2\r\n", 21); /* no TLS: not a method nginx knows */
	read_answer(o, sv[1], buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(buf, "<title>400 Bad Request</title>"));
	assert_null(strstr(buf, "plain HTTP"));
	finish(o, sv[1]);
}

/* A second request left unread at the close: nginx's lingering close. The answer, then the
 * end of the stream at once, and what the client sends next is still taken (no reset) until
 * it closes its side; only then is the owner told. */
static void test_lingering_close(void **state)
{
	int sv[2];
	struct owner *o = start(sv);
	static const char req[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n";
	char buf[1024];
	ssize_t n;
	size_t got = 0;

	(void)state;
	send_all(sv[1], req, sizeof(req) - 1);
	run_for(o->l, 20);
	while ((n = recv(sv[1], buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0); /* shut for writing */
	buf[got] = '\0';
	assert_non_null(strstr(buf, "plain HTTP request was sent to HTTPS port"));
	assert_int_equal(o->error_events, 0);
	send_all(sv[1], "Host: a\r\n\r\n", 11);
	run_for(o->l, 20);
	assert_int_equal(o->error_events, 0); /* dropped, still lingering */
	shutdown(sv[1], SHUT_WR);
	run_for(o->l, 0);
	assert_int_equal(o->error_events, 1);
	finish(o, sv[1]);
}

/* Before the first byte the layer above (stealth over TLS) keeps the time: no event here. */
static void test_no_clock_before_first_byte(void **state)
{
	int sv[2];
	struct owner *o = start(sv);

	(void)state;
	run_for(o->l, 50);
	assert_int_equal(o->read_events + o->error_events, 0);
	/* The client leaves: the owner hears of it. */
	shutdown(sv[1], SHUT_WR);
	run_for(o->l, 0);
	assert_int_equal(o->error_events, 1);
	finish(o, sv[1]);
}

/* TLS's quiet shutdown shuts the layer below it: it reaches the socket. */
static void test_shut_passes_down(void **state)
{
	int sv[2];
	struct owner *o = start(sv);
	char buf[8];

	(void)state;
	send_all(sv[1], "\x16", 1);
	run_for(o->l, 0);
	assert_int_equal(transport_read(o->t, buf, sizeof(buf)), 1);
	assert_int_equal(transport_write(o->t, "ab", 2), 2);
	transport_shut(o->t);
	assert_int_equal(transport_write(o->t, "cd", 2), -1);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 2);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 0);
	finish(o, sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_record_passes),
		cmocka_unit_test(test_sslv2_hello_passes),
		cmocka_unit_test(test_plain_http_answered),
		cmocka_unit_test(test_malformed_answered),
		cmocka_unit_test(test_lingering_close),
		cmocka_unit_test(test_no_clock_before_first_byte),
		cmocka_unit_test(test_shut_passes_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
