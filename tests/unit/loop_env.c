/* Helpers for unit tests that run the event loop (test_direct, test_outbound, test_resolve).
 * Test-only: a test file includes this file directly after cmocka.h (the helpers shared as
 * objects, UNIT_HELPERS in the Makefile, are for code too big to inline). Everything is
 * static inline so that each test uses what it needs without unused-function warnings. */
#ifndef ALKNET_TEST_LOOP_ENV_C
#define ALKNET_TEST_LOOP_ENV_C

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "loop.h"
#include "resolve.h"

#define GUARD_MS 5000

/* A loop and a 2-thread resolver per test (cmocka setup/teardown). */
struct env {
	struct loop *l;
	struct resolver *r;
};

static inline int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->l = loop_new();
	e->r = resolver_new(e->l, 2);
	*state = e;
	return e->l != NULL && e->r != NULL ? 0 : -1;
}

static inline int env_teardown(void **state)
{
	struct env *e = *state;

	resolver_free(e->r);
	loop_free(e->l);
	free(e);
	return 0;
}

static inline void guard_cb(struct loop *l, void *ctx)
{
	*(bool *)ctx = true;
	loop_stop(l);
}

/* Runs the loop until a callback stops it (ms == 0; fails the test after GUARD_MS), or for ms
 * milliseconds (then the loop must not have been stopped earlier). */
static inline void run_for(struct loop *l, uint64_t ms)
{
	struct loop_timer t;
	bool fired = false;

	loop_timer_init(&t);
	loop_timer_start(l, &t, ms ? ms : GUARD_MS, guard_cb, &fired);
	assert_int_equal(loop_run(l), 0);
	loop_timer_stop(l, &t);
	assert_true(ms ? fired : !fired);
}

/* Open descriptors of this process (to check that nothing leaked). */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL) {
		n++;
	}
	closedir(d);
	return n;
}

#endif
