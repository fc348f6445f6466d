/* Unit tests for the PROXY-header transport (src/transport/proxy_header.c) on a socketpair:
 * the header in one piece or many, the bytes that came with it handed out first (with a
 * TRANSPORT_READ of its own, as the socket will not announce them again), nothing written
 * before the header, the failures: garbage, EOF, the timeout; and shut reaching the socket. */
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
#include "transport/proxy_header.h"

struct probe {
	struct loop *l;
	struct transport *t;
	int reports;
	struct proxy_header hdr;
	char error[64];
	unsigned read_events;
	bool close_on_report; /* what the accept path does with a failure */
};

static void on_header(void *ctx, struct transport *t, const struct proxy_header *hdr)
{
	struct probe *p = ctx;

	p->reports++;
	p->hdr = *hdr;
	if (hdr->error)
		snprintf(p->error, sizeof(p->error), "%s", hdr->error);
	if (hdr->error && p->close_on_report) {
		transport_close(t);
		p->t = NULL;
	}
	loop_stop(p->l);
}

static void on_io(void *ctx, unsigned events)
{
	struct probe *p = ctx;

	if (events & TRANSPORT_READ)
		p->read_events++;
	loop_stop(p->l);
}

/* A loop, a socketpair (sv[0] is the transport's, sv[1] the sender's) and the transport. */
static struct probe *start(int sv[2], uint64_t timeout_ms)
{
	struct probe *p = calloc(1, sizeof(*p));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	net_set_nonblock(sv[0]);
	p->l = loop_new();
	p->close_on_report = true;
	p->t = transport_proxy_new(p->l, sv[0], PROXY_HEADER_ANY, timeout_ms, on_header, p);
	assert_non_null(p->t);
	return p;
}

static void finish(struct probe *p, int sender)
{
	if (p->t)
		transport_close(p->t);
	close(sender);
	loop_free(p->l);
	free(p);
}

static void send_all(int fd, const void *b, size_t n)
{
	assert_int_equal(send(fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void test_header_then_bytes(void **state)
{
	int sv[2];
	struct probe *p = start(sv, 5000);
	static const char in[] = "PROXY TCP4 192.0.2.7 192.0.2.1 4000 22\r\nSSH-2.0-client\r\n";
	char buf[64];
	int fds = count_fds();

	(void)state;
	/* Nothing may reach the sender before its header. */
	errno = 0;
	assert_int_equal(transport_write(p->t, "x", 1), -1);
	assert_int_equal(errno, EAGAIN);
	send_all(sv[1], in, sizeof(in) - 1);
	run_for(p->l, 0);
	assert_int_equal(p->reports, 1);
	assert_null(p->hdr.error);
	assert_int_equal(p->hdr.len, 40);
	assert_int_equal(p->hdr.src.ss_family, AF_INET);
	/* The banner came with the header: it is buffered, and announced without the socket. */
	assert_int_equal(transport_buffered(p->t), 16);
	transport_set_owner(p->t, on_io, p);
	assert_int_equal(transport_want(p->t, TRANSPORT_READ), 0);
	run_for(p->l, 0);
	assert_int_equal(p->read_events, 1);
	assert_int_equal(transport_read(p->t, buf, 4), 4);
	assert_memory_equal(buf, "SSH-", 4);
	assert_int_equal(transport_buffered(p->t), 12);
	assert_int_equal(transport_read(p->t, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "2.0-client\r\n", 12);
	assert_int_equal(transport_buffered(p->t), 0);
	assert_int_equal(transport_read(p->t, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	/* Then straight through, both ways. */
	send_all(sv[1], "more", 4);
	run_for(p->l, 0);
	assert_int_equal(transport_read(p->t, buf, sizeof(buf)), 4);
	assert_int_equal(transport_write(p->t, "SSH-2.0-server\r\n", 16), 16);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 16);
	assert_memory_equal(buf, "SSH-2.0-server\r\n", 16);
	assert_int_equal(count_fds(), fds);
	finish(p, sv[1]);
}

static void test_header_in_pieces(void **state)
{
	int sv[2];
	struct probe *p = start(sv, 5000);
	uint8_t in[28] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
			  0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 10,   1,	  2,	3,
			  192,	0,    2,    1,	  0x9c, 0x40, 0x00, 0x16};
	char buf[8];

	(void)state;
	/* One byte per loop pass: the transport keeps what it has and waits. */
	for (size_t i = 0; i < sizeof(in) - 1; i++) {
		send_all(sv[1], in + i, 1);
		run_for(p->l, 20);
		assert_int_equal(p->reports, 0);
	}
	send_all(sv[1], in + sizeof(in) - 1, 1);
	run_for(p->l, 0);
	assert_int_equal(p->reports, 1);
	assert_null(p->hdr.error);
	assert_int_equal(p->hdr.version, 2);
	/* Nothing came after it: nothing buffered, reads go to the socket. */
	assert_int_equal(transport_buffered(p->t), 0);
	transport_set_owner(p->t, on_io, p);
	transport_want(p->t, TRANSPORT_READ);
	run_for(p->l, 20);
	assert_int_equal(p->read_events, 0);
	send_all(sv[1], "SSH-", 4);
	run_for(p->l, 0);
	assert_int_equal(p->read_events, 1);
	assert_int_equal(transport_read(p->t, buf, sizeof(buf)), 4);
	finish(p, sv[1]);
}

static void test_garbage(void **state)
{
	int sv[2];
	int fds = count_fds();
	struct probe *p = start(sv, 5000);

	(void)state;
	send_all(sv[1], "SSH-2.0-OpenSSH_9.2\r\n", 21);
	run_for(p->l, 0);
	assert_int_equal(p->reports, 1);
	assert_string_equal(p->error, "not a PROXY header");
	assert_null(p->t);
	run_for(p->l, 10); /* the deferred free */
	/* Closed without a byte sent back. */
	char c;
	assert_int_equal(recv(sv[1], &c, 1, 0), 0);
	finish(p, sv[1]);
	assert_int_equal(count_fds(), fds);
}

static void test_eof_and_timeout(void **state)
{
	int sv[2];
	struct probe *p = start(sv, 5000);

	(void)state;
	send_all(sv[1], "PROXY TCP4 1.2", 14);
	shutdown(sv[1], SHUT_WR);
	run_for(p->l, 0);
	assert_int_equal(p->reports, 1);
	assert_string_equal(p->error, "closed before the PROXY header");
	finish(p, sv[1]);

	p = start(sv, 50);
	send_all(sv[1], "PROXY TCP4 1.2", 14);
	run_for(p->l, 0);
	assert_int_equal(p->reports, 1);
	assert_string_equal(p->error, "no PROXY header in time");
	finish(p, sv[1]);
}

/* Closed by its owner with the header's leftovers still buffered: nothing is announced after
 * the close, nothing leaks (run under valgrind/ASan by check-san). */
static void test_close_with_buffered(void **state)
{
	int sv[2];
	struct probe *p = start(sv, 5000);
	static const char in[] = "PROXY UNKNOWN\r\nSSH-2.0-x\r\n";

	(void)state;
	send_all(sv[1], in, sizeof(in) - 1);
	run_for(p->l, 0);
	assert_true(p->hdr.local);
	transport_set_owner(p->t, on_io, p);
	transport_want(p->t, TRANSPORT_READ); /* queues the announcement */
	transport_close(p->t);
	p->t = NULL;
	run_for(p->l, 20);
	assert_int_equal(p->read_events, 0);
	finish(p, sv[1]);
}

/* shut (what --stealth does for nginx's quiet shutdown) goes through to the TCP socket: the
 * peer sees the end of the stream at once, and nothing written afterwards goes out. */
static void test_shut(void **state)
{
	int sv[2];
	struct probe *p = start(sv, 5000);
	static const char in[] = "PROXY UNKNOWN\r\n";
	char buf[8];

	(void)state;
	send_all(sv[1], in, sizeof(in) - 1);
	run_for(p->l, 0);
	assert_null(p->hdr.error);
	transport_set_owner(p->t, on_io, p);
	assert_int_equal(transport_write(p->t, "ab", 2), 2);
	transport_shut(p->t);
	errno = 0;
	assert_int_equal(transport_write(p->t, "cd", 2), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 2);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 0);
	finish(p, sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_then_bytes),
		cmocka_unit_test(test_header_in_pieces),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_eof_and_timeout),
		cmocka_unit_test(test_close_with_buffered),
		cmocka_unit_test(test_shut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
