/* Unit tests for src/resolve.c. The source is included so the static family interleaving can
 * be tested directly; everything else goes through the public API. Loopback names only: the
 * ".invalid" lookup fails fast on a machine without DNS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "resolve.c"
#include "loop_env.c"

struct result {
	int calls;
	int err;
	struct addrinfo *res;
	bool stop_loop;
	struct loop *loop;
	struct resolve_req *cancel_other; /* cancelled from inside the callback */
};

static void result_cb(void *ctx, int err, struct addrinfo *res)
{
	struct result *r = ctx;

	r->calls++;
	r->err = err;
	r->res = res;
	if (r->cancel_other != NULL) {
		resolve_cancel(r->cancel_other);
		r->cancel_other = NULL;
	}
	if (r->stop_loop) {
		loop_stop(r->loop);
	}
}

static void lookup_ok(const char *host, int family)
{
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 4);
	struct result res = {.stop_loop = true, .loop = l};

	assert_non_null(r);
	assert_non_null(resolve_start(r, host, 2222, result_cb, &res));
	assert_int_equal(res.calls, 0); /* never synchronous */
	run_for(l, 0);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, 0);
	assert_non_null(res.res);
	for (struct addrinfo *ai = res.res; ai != NULL; ai = ai->ai_next) {
		assert_int_equal(ai->ai_socktype, SOCK_STREAM);
		assert_true(ai->ai_family == AF_INET || ai->ai_family == AF_INET6);
		if (family != AF_UNSPEC) {
			assert_int_equal(ai->ai_family, family);
		}
		/* sin_port and sin6_port sit at the same offset */
		assert_int_equal(ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port), 2222);
	}
	freeaddrinfo(res.res);
	resolver_free(r);
	loop_free(l);
}

static void test_localhost(void **state)
{
	(void)state;
	lookup_ok("localhost", AF_UNSPEC);
}

static void test_numeric_v4(void **state)
{
	(void)state;
	lookup_ok("127.0.0.1", AF_INET);
}

static void test_numeric_v6(void **state)
{
	(void)state;
	lookup_ok("::1", AF_INET6);
}

/* A numeric host is delivered by a loop defer: the eventfd is never written. */
static void test_numeric_without_eventfd(void **state)
{
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 1);
	struct result res = {.stop_loop = true, .loop = l};
	uint64_t v;

	(void)state;
	assert_non_null(resolve_start(r, "127.0.0.1", 80, result_cb, &res));
	assert_int_equal(read(r->efd, &v, sizeof(v)), -1);
	assert_int_equal(errno, EAGAIN);
	run_for(l, 0);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, 0);
	freeaddrinfo(res.res);
	resolver_free(r);
	loop_free(l);
}

static void test_invalid_name_fails(void **state)
{
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 2);
	struct result res = {.stop_loop = true, .loop = l};

	(void)state;
	resolve_start(r, "no-such-host.invalid", 22, result_cb, &res);
	run_for(l, 0);
	assert_int_equal(res.calls, 1);
	assert_null(res.res);
	/* glibc's EAI_* codes are negative */
	assert_true(res.err < 0);
	assert_non_null(gai_strerror(res.err));
	resolver_free(r);
	loop_free(l);
}

/* With one worker, later requests sit in the queue: cancel them all (queued or running) and
 * no callback may follow. */
static void test_cancel_before_completion(void **state)
{
	enum { N = 8 };
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 1);
	struct result res = {.calls = 0};
	struct resolve_req *reqs[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		reqs[i] = resolve_start(r, i % 2 ? "localhost" : "127.0.0.1", 22, result_cb, &res);
	}
	for (int i = 0; i < N; i++) {
		resolve_cancel(reqs[i]);
	}
	resolve_cancel(NULL);
	run_for(l, 100);
	assert_int_equal(res.calls, 0);
	resolver_free(r);
	loop_free(l);
}

/* A finished request not yet delivered can still be cancelled. */
static void test_cancel_when_done(void **state)
{
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 1);
	struct result res = {.calls = 0};
	struct result other = {.stop_loop = true, .loop = l};

	(void)state;
	struct resolve_req *req = resolve_start(r, "localhost", 22, result_cb, &res);
	usleep(200 * 1000); /* plenty for /etc/hosts; cancel works either way */
	resolve_cancel(req);
	resolve_start(r, "localhost", 22, result_cb, &other);
	run_for(l, 0);
	assert_int_equal(res.calls, 0);
	assert_int_equal(other.calls, 1);
	freeaddrinfo(other.res);
	resolver_free(r);
	loop_free(l);
}

/* Both numeric results are on the done list together; the first callback cancels the second,
 * which must then never be delivered. */
static void test_cancel_from_callback(void **state)
{
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 1);
	struct result first = {.calls = 0}, second = {.calls = 0};

	(void)state;
	resolve_start(r, "127.0.0.1", 22, result_cb, &first);
	first.cancel_other = resolve_start(r, "::1", 22, result_cb, &second);
	run_for(l, 50);
	assert_int_equal(first.calls, 1);
	assert_int_equal(second.calls, 0);
	freeaddrinfo(first.res);
	resolver_free(r);
	loop_free(l);
}

/* resolver_free drops undelivered requests without callbacks (valgrind: without leaks). */
static void test_free_with_pending(void **state)
{
	struct loop *l = loop_new();
	struct resolver *r = resolver_new(l, 2);
	struct result res = {.calls = 0};

	(void)state;
	for (int i = 0; i < 6; i++) {
		resolve_start(r, i % 3 ? "localhost" : "::1", 22, result_cb, &res);
	}
	resolver_free(r);
	run_for(l, 20);
	assert_int_equal(res.calls, 0);
	loop_free(l);
}

/* Builds a list from numeric hosts by chaining single getaddrinfo() results. */
static struct addrinfo *make_list(const char *const *hosts, size_t n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *head = NULL, **tail = &head;

	for (size_t i = 0; i < n; i++) {
		struct addrinfo *ai = NULL;
		assert_int_equal(getaddrinfo(hosts[i], "1", &hints, &ai), 0);
		*tail = ai;
		while (ai->ai_next != NULL) {
			ai = ai->ai_next;
		}
		tail = &ai->ai_next;
	}
	return head;
}

static void check_order(const char *const *in, size_t n, const char *const *want)
{
	struct addrinfo *list = resolve_interleave(make_list(in, n));
	size_t i = 0;
	char buf[INET6_ADDRSTRLEN];

	for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next, i++) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
		const void *a = ai->ai_family == AF_INET ? (const void *)&sin->sin_addr
							 : (const void *)&sin6->sin6_addr;
		assert_true(i < n);
		assert_non_null(inet_ntop(ai->ai_family, a, buf, sizeof(buf)));
		assert_string_equal(buf, want[i]);
	}
	assert_int_equal(i, n);
	freeaddrinfo(list);
}

static void test_interleave(void **state)
{
	static const char *const in1[] = {"::1", "::2", "::3", "127.0.0.1", "127.0.0.2"};
	static const char *const out1[] = {"::1", "127.0.0.1", "::2", "127.0.0.2", "::3"};
	static const char *const in2[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"};
	static const char *const out2[] = {"127.0.0.1", "::1", "127.0.0.2", "127.0.0.3"};
	static const char *const in3[] = {"127.0.0.1", "127.0.0.2"};

	(void)state;
	check_order(in1, 5, out1);
	check_order(in2, 4, out2);
	check_order(in3, 2, in3);
	assert_null(resolve_interleave(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_localhost),
		cmocka_unit_test(test_numeric_v4),
		cmocka_unit_test(test_numeric_v6),
		cmocka_unit_test(test_numeric_without_eventfd),
		cmocka_unit_test(test_invalid_name_fails),
		cmocka_unit_test(test_cancel_before_completion),
		cmocka_unit_test(test_cancel_when_done),
		cmocka_unit_test(test_cancel_from_callback),
		cmocka_unit_test(test_free_with_pending),
		cmocka_unit_test(test_interleave),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
