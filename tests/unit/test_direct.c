/* Unit tests for src/proxy/direct.c. Loopback addresses only. The timeout and cancel-while-
 * connecting cases use a listener with backlog 0 whose accept queue is filled: Linux then drops
 * further SYNs, so those connects stay in progress. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_env.c"

#include "loop.h"
#include "net.h"
#include "proxy/direct.h"
#include "resolve.h"

struct dial_result {
	int calls;
	int fd;
	enum dial_err err;
	struct loop *l;
};

static void dial_done(void *ctx, int fd, enum dial_err err)
{
	struct dial_result *d = ctx;

	d->calls++;
	d->fd = fd;
	d->err = err;
	loop_stop(d->l);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Listening socket on the loopback of `family`; returns the fd and stores the port. */
static int listen_lo(int family, int backlog, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(net_parse_addr(family == AF_INET ? "127.0.0.1:1" : "[::1]:1", &ss, &len),
			 0);
	((struct sockaddr_in *)&ss)->sin_port = 0; /* same offset in sockaddr_in6 */
	int fd = net_listen(&ss, len, backlog);
	assert_true(fd >= 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Dials host:port and checks a connected, non-blocking, TCP_NODELAY fd comes back. */
static void dial_ok(struct env *e, int lfd, const char *host, uint16_t port)
{
	struct dial_result d = {.fd = -2, .l = e->l};
	int opt = 0;
	socklen_t optlen = sizeof(opt);

	assert_non_null(direct_connect(e->l, e->r, host, port, 3000, dial_done, &d));
	assert_int_equal(d.calls, 0); /* never synchronous */
	run_for(e->l, 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, DIAL_OK);
	assert_true(d.fd >= 0);
	assert_true(fcntl(d.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(d.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockopt(d.fd, IPPROTO_TCP, TCP_NODELAY, &opt, &optlen), 0);
	assert_int_not_equal(opt, 0);
	int a = accept(lfd, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(d.fd, "hi", 2), 2);
	char buf[2];
	assert_int_equal(read(a, buf, 2), 2);
	close(a);
	close(d.fd);
}

static void test_connect_v4(void **state)
{
	uint16_t port;
	int lfd = listen_lo(AF_INET, 16, &port);

	dial_ok(*state, lfd, "127.0.0.1", port);
	dial_ok(*state, lfd, "localhost", port);
	close(lfd);
}

static void test_connect_v6(void **state)
{
	uint16_t port;
	int lfd = listen_lo(AF_INET6, 16, &port);

	dial_ok(*state, lfd, "::1", port);
	close(lfd);
}

/* Dials and expects failure `want`; no fd may be handed over. */
static void dial_fail(struct env *e, const char *host, uint16_t port, uint64_t timeout_ms,
		      enum dial_err want)
{
	struct dial_result d = {.fd = -2, .l = e->l};

	direct_connect(e->l, e->r, host, port, timeout_ms, dial_done, &d);
	run_for(e->l, 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, want);
	assert_int_equal(d.fd, -1);
}

/* A bound but not listening socket holds the port, so the SYN gets a RST. */
static void test_refused(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int before = count_fds();
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(net_parse_addr("127.0.0.1:1", &ss, &len), 0);
	((struct sockaddr_in *)&ss)->sin_port = 0;
	assert_int_equal(bind(s, (struct sockaddr *)&ss, len), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(s, (struct sockaddr *)&ss, &len), 0);
	dial_fail(*state, "127.0.0.1", ntohs(((struct sockaddr_in *)&ss)->sin_port), 3000,
		  DIAL_REFUSED);
	close(s);
	assert_int_equal(count_fds(), before);
}

static void test_name_not_resolved(void **state)
{
	dial_fail(*state, "no-such-host.invalid", 22, 3000, DIAL_RESOLVE);
}

/* Fills the accept queue of a backlog-0 listener: connects until one stays in progress.
 * Returns how many filler fds were stored in fillers[]. */
static int fill_backlog(int port, int *fillers, int max)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int n = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (n < max) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		fillers[n++] = fd;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			continue;
		}
		assert_int_equal(errno, EINPROGRESS);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, 100) == 0) {
			return n;
		}
	}
	fail_msg("accept queue never filled");
	return n;
}

static void test_timeout_while_connecting(void **state)
{
	struct env *e = *state;
	uint16_t port;
	int fillers[16];
	int lfd = listen_lo(AF_INET, 0, &port);
	int n = fill_backlog(port, fillers, 16);
	int before = count_fds();
	struct dial_result d = {.fd = -2, .l = e->l};

	run_for(e->l, 1); /* refresh the loop's cached clock after the slow setup */
	uint64_t t0 = mono_ms();
	direct_connect(e->l, e->r, "127.0.0.1", port, 200, dial_done, &d);
	run_for(e->l, 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, DIAL_TIMEOUT);
	assert_int_equal(d.fd, -1);
	assert_true(mono_ms() - t0 >= 190);
	assert_int_equal(count_fds(), before);
	for (int i = 0; i < n; i++) {
		close(fillers[i]);
	}
	close(lfd);
}

/* With timeout 0 the timer fires before the numeric lookup is delivered: the resolve stage
 * times out and the pending request is cancelled. */
static void test_timeout_while_resolving(void **state)
{
	dial_fail(*state, "127.0.0.1", 9, 0, DIAL_TIMEOUT);
}

struct cancel_ctx {
	struct direct_conn *c;
};

static void cancel_timer_cb(struct loop *l, void *ctx)
{
	struct cancel_ctx *cc = ctx;

	(void)l;
	direct_cancel(cc->c);
	cc->c = NULL;
}

static void test_cancel_while_connecting(void **state)
{
	struct env *e = *state;
	uint16_t port;
	int fillers[16];
	int lfd = listen_lo(AF_INET, 0, &port);
	int n = fill_backlog(port, fillers, 16);
	int before = count_fds();
	struct dial_result d = {.fd = -2, .l = e->l};
	struct cancel_ctx cc;
	struct loop_timer t;

	cc.c = direct_connect(e->l, e->r, "127.0.0.1", port, 3000, dial_done, &d);
	loop_timer_init(&t);
	loop_timer_start(e->l, &t, 50, cancel_timer_cb, &cc);
	run_for(e->l, 150);
	assert_null(cc.c);
	assert_int_equal(d.calls, 0);
	assert_int_equal(count_fds(), before);
	for (int i = 0; i < n; i++) {
		close(fillers[i]);
	}
	close(lfd);
}

static void test_cancel_while_resolving(void **state)
{
	struct env *e = *state;
	struct dial_result d = {.fd = -2, .l = e->l};

	direct_cancel(direct_connect(e->l, e->r, "localhost", 22, 3000, dial_done, &d));
	direct_cancel(direct_connect(e->l, e->r, "::1", 22, 3000, dial_done, &d));
	direct_cancel(NULL);
	run_for(e->l, 100);
	assert_int_equal(d.calls, 0);
}

/* The callback frees its own context and even cancels its (finished) handle: both safe. */
struct owner {
	struct direct_conn *c;
	struct loop *l;
	int *calls;
};

static void owner_done(void *ctx, int fd, enum dial_err err)
{
	struct owner *o = ctx;

	assert_int_equal(err, DIAL_REFUSED);
	assert_int_equal(fd, -1);
	(*o->calls)++;
	direct_cancel(o->c);
	loop_stop(o->l);
	free(o);
}

static void test_callback_frees_owner(void **state)
{
	struct env *e = *state;
	struct owner *o = calloc(1, sizeof(*o));
	int calls = 0;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(net_parse_addr("[::1]:1", &ss, &len), 0);
	((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	assert_int_equal(bind(s, (struct sockaddr *)&ss, len), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(s, (struct sockaddr *)&ss, &len), 0);
	o->l = e->l;
	o->calls = &calls;
	o->c = direct_connect(e->l, e->r, "::1", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port),
			      3000, owner_done, o);
	run_for(e->l, 0);
	assert_int_equal(calls, 1);
	close(s);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(dial_strerror(DIAL_REFUSED), "connection refused");
	assert_string_equal(dial_strerror(DIAL_TIMEOUT), "timed out");
	assert_string_equal(dial_strerror(DIAL_UNREACHABLE), "network or host unreachable");
	assert_string_equal(dial_strerror(DIAL_RESOLVE), "name not resolved");
	assert_string_equal(dial_strerror(DIAL_OTHER), "connect failed");
	assert_string_equal(dial_strerror((enum dial_err)99), "connect failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_v4, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_connect_v6, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_refused, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_name_not_resolved, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_while_connecting, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_while_resolving, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_connecting, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_resolving, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_callback_frees_owner, env_setup, env_teardown),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
