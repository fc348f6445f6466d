/* Unit tests for src/loop.c: timers, io events, io_stop inside a batch, defers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

#define GUARD_MS 3000

static void guard_fired(struct loop *l, void *ctx)
{
	bool *fired = ctx;

	*fired = true;
	loop_stop(l);
}

/* Runs l until a callback stops it; fails the test if that takes more than GUARD_MS. */
static void run_guarded(struct loop *l)
{
	struct loop_timer guard;
	bool fired = false;

	loop_timer_init(&guard);
	loop_timer_start(l, &guard, GUARD_MS, guard_fired, &fired);
	assert_int_equal(loop_run(l), 0);
	loop_timer_stop(l, &guard);
	assert_false(fired);
}

static void stop_cb(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l);
}

/* ---- timers ---- */

struct order {
	int seen[64];
	int n;
};

struct order_timer {
	struct loop_timer t;
	struct order *o;
	int id;
};

static void order_timer_cb(struct loop *l, void *ctx)
{
	struct order_timer *ot = ctx;

	(void)l;
	ot->o->seen[ot->o->n++] = ot->id;
}

static void test_timers_fire_in_order(void **state)
{
	struct loop *l = loop_new();
	struct order o = {.n = 0};
	uint64_t delays[] = {30, 10, 0, 20, 5};
	struct order_timer ts[5];
	struct loop_timer last;

	(void)state;
	for (int i = 0; i < 5; i++) {
		ts[i].o = &o;
		ts[i].id = i;
		loop_timer_init(&ts[i].t);
		assert_false(loop_timer_armed(&ts[i].t));
		loop_timer_start(l, &ts[i].t, delays[i], order_timer_cb, &ts[i]);
		assert_true(loop_timer_armed(&ts[i].t));
	}
	loop_timer_init(&last);
	loop_timer_start(l, &last, 40, stop_cb, NULL);
	run_guarded(l);
	assert_int_equal(o.n, 5);
	int want[] = {2, 4, 1, 3, 0};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(o.seen[i], want[i]);
		assert_false(loop_timer_armed(&ts[i].t));
	}
	loop_free(l);
}

static void test_timer_stop_cancels(void **state)
{
	struct loop *l = loop_new();
	struct order o = {.n = 0};
	struct order_timer a = {.o = &o, .id = 1}, b = {.o = &o, .id = 2};
	struct loop_timer last;

	(void)state;
	loop_timer_init(&a.t);
	loop_timer_init(&b.t);
	loop_timer_init(&last);
	loop_timer_start(l, &a.t, 5, order_timer_cb, &a);
	loop_timer_start(l, &b.t, 10, order_timer_cb, &b);
	loop_timer_stop(l, &a.t);
	loop_timer_stop(l, &a.t); /* twice is harmless */
	assert_false(loop_timer_armed(&a.t));
	/* Re-arming moves a timer rather than adding a second one. */
	loop_timer_start(l, &b.t, 1, order_timer_cb, &b);
	loop_timer_start(l, &last, 30, stop_cb, NULL);
	run_guarded(l);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.seen[0], 2);
	loop_free(l);
}

struct stopper {
	struct loop_timer t;
	struct loop_timer *victim;
};

static void stopper_cb(struct loop *l, void *ctx)
{
	struct stopper *s = ctx;

	loop_timer_stop(l, s->victim);
}

static void test_timer_stopped_by_other_timer(void **state)
{
	struct loop *l = loop_new();
	struct order o = {.n = 0};
	struct order_timer v = {.o = &o, .id = 7};
	struct stopper s = {.victim = &v.t};
	struct loop_timer last;

	(void)state;
	loop_timer_init(&v.t);
	loop_timer_init(&s.t);
	loop_timer_init(&last);
	/* Both due in the same pass; the earlier one disarms the later one. */
	loop_timer_start(l, &s.t, 1, stopper_cb, &s);
	loop_timer_start(l, &v.t, 2, order_timer_cb, &v);
	usleep(5000);
	loop_timer_start(l, &last, 20, stop_cb, NULL);
	run_guarded(l);
	assert_int_equal(o.n, 0);
	loop_free(l);
}

/* Many timers, some stopped and some re-armed: the heap must fire them by deadline. */
struct heap_timer {
	struct loop_timer t;
	uint64_t when;
	bool fired;
	uint64_t *last_when;
	int *bad;
};

static void heap_timer_cb(struct loop *l, void *ctx)
{
	struct heap_timer *h = ctx;

	(void)l;
	if (h->when < *h->last_when || h->fired) {
		(*h->bad)++;
	}
	*h->last_when = h->when;
	h->fired = true;
}

static void test_timer_heap_many(void **state)
{
	enum { N = 300 };
	struct loop *l = loop_new();
	struct heap_timer *hs = calloc(N, sizeof(*hs));
	uint64_t last_when = 0;
	int bad = 0;
	unsigned seed = 12345;
	struct loop_timer last;

	(void)state;
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		hs[i].last_when = &last_when;
		hs[i].bad = &bad;
		loop_timer_init(&hs[i].t);
		loop_timer_start(l, &hs[i].t, (seed >> 16) % 40, heap_timer_cb, &hs[i]);
		hs[i].when = hs[i].t.when_ms;
	}
	for (int i = 0; i < N; i += 3) {
		loop_timer_stop(l, &hs[i].t);
	}
	for (int i = 1; i < N; i += 7) {
		loop_timer_start(l, &hs[i].t, 15, heap_timer_cb, &hs[i]);
		hs[i].when = hs[i].t.when_ms;
	}
	loop_timer_init(&last);
	loop_timer_start(l, &last, 60, stop_cb, NULL);
	run_guarded(l);
	assert_int_equal(bad, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(hs[i].fired, i % 3 != 0 || i % 7 == 1);
	}
	free(hs);
	loop_free(l);
}

static void test_now_advances(void **state)
{
	struct loop *l = loop_new();
	struct loop_timer t;
	uint64_t before = loop_now_ms(l);

	(void)state;
	loop_timer_init(&t);
	loop_timer_start(l, &t, 25, stop_cb, NULL);
	run_guarded(l);
	assert_true(loop_now_ms(l) >= before + 25);
	loop_free(l);
}

/* ---- io ---- */

struct io_rec {
	struct loop_io io;
	unsigned events;
	int calls;
};

static void io_rec_stop_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct io_rec *r = io->ctx;

	r->events = events;
	r->calls++;
	loop_io_stop(l, io);
	loop_stop(l);
}

static void test_io_read(void **state)
{
	struct loop *l = loop_new();
	struct io_rec r = {.calls = 0};
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(loop_io_start(l, &r.io, p[0], LOOP_READ, io_rec_stop_cb, &r), 0);
	assert_true(r.io.registered);
	assert_int_equal(write(p[1], "x", 1), 1);
	run_guarded(l);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events, LOOP_READ);
	assert_false(r.io.registered);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_io_write_and_set(void **state)
{
	struct loop *l = loop_new();
	struct io_rec r = {.calls = 0};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	/* Nothing to read yet: asked for read only, nothing may fire before the guard. */
	assert_int_equal(loop_io_start(l, &r.io, sv[0], LOOP_READ, io_rec_stop_cb, &r), 0);
	assert_int_equal(loop_io_set(l, &r.io, LOOP_READ), 0);
	assert_int_equal(loop_io_set(l, &r.io, LOOP_WRITE), 0);
	assert_int_equal(r.io.events, LOOP_WRITE);
	run_guarded(l);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events, LOOP_WRITE);
	assert_int_equal(loop_io_set(l, &r.io, LOOP_READ), -EINVAL);
	loop_free(l);
	close(sv[0]);
	close(sv[1]);
}

/* A hung-up pipe reports LOOP_ERROR even though only LOOP_WRITE was asked for. */
static void test_io_error_always_delivered(void **state)
{
	struct loop *l = loop_new();
	struct io_rec r = {.calls = 0};
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	close(p[1]);
	assert_int_equal(loop_io_start(l, &r.io, p[0], LOOP_WRITE, io_rec_stop_cb, &r), 0);
	run_guarded(l);
	assert_int_equal(r.calls, 1);
	assert_true(r.events & LOOP_ERROR);
	assert_false(r.events & LOOP_READ);
	loop_free(l);
	close(p[0]);
}

static void test_io_start_errors(void **state)
{
	struct loop *l = loop_new();
	struct io_rec r = {.calls = 0}, r2 = {.calls = 0};
	int p[2];

	(void)state;
	assert_int_equal(loop_io_start(l, &r.io, 12345, LOOP_READ, io_rec_stop_cb, &r), -EBADF);
	assert_false(r.io.registered);
	loop_io_stop(l, &r.io); /* not registered: harmless */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(loop_io_start(l, &r.io, p[0], LOOP_READ, io_rec_stop_cb, &r), 0);
	assert_int_equal(loop_io_start(l, &r2.io, p[0], LOOP_READ, io_rec_stop_cb, &r2), -EEXIST);
	assert_false(r2.io.registered);
	/* Stopped, the same struct can be started again, even with the same fd. */
	loop_io_stop(l, &r.io);
	loop_io_stop(l, &r.io);
	assert_int_equal(loop_io_start(l, &r.io, p[0], LOOP_READ, io_rec_stop_cb, &r), 0);
	loop_io_stop(l, &r.io);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

/* Two readable pipes in one batch; whichever is delivered first stops the other. */
struct pair {
	struct io_rec a;
	struct io_rec b;
	int total;
	int restarted_calls;
	int spare_fd;
	bool restart;
};

static void pair_restarted_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct pair *p = io->ctx;

	(void)l;
	(void)events;
	p->restarted_calls++;
}

static void pair_stop_defer(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l);
}

static void pair_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct pair *p = io->ctx;
	struct loop_io *other = io == &p->a.io ? &p->b.io : &p->a.io;

	(void)events;
	p->total++;
	loop_io_stop(l, io);
	loop_io_stop(l, other);
	if (p->restart) {
		/* Same struct, new fd (an empty pipe) and callback, in the same batch: the stale
		 * event must not reach it. */
		assert_int_equal(
			loop_io_start(l, other, p->spare_fd, LOOP_READ, pair_restarted_cb, p), 0);
	}
	loop_defer(l, pair_stop_defer, NULL);
}

static void run_pair(bool restart)
{
	struct loop *l = loop_new();
	struct pair p = {.total = 0, .restart = restart};
	int pa[2], pb[2], spare[2];

	assert_int_equal(pipe2(pa, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(pb, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(spare, O_NONBLOCK | O_CLOEXEC), 0);
	p.spare_fd = spare[0];
	assert_int_equal(write(pa[1], "a", 1), 1);
	assert_int_equal(write(pb[1], "b", 1), 1);
	assert_int_equal(loop_io_start(l, &p.a.io, pa[0], LOOP_READ, pair_cb, &p), 0);
	assert_int_equal(loop_io_start(l, &p.b.io, pb[0], LOOP_READ, pair_cb, &p), 0);
	run_guarded(l);
	assert_int_equal(p.total, 1);
	assert_int_equal(p.restarted_calls, 0);
	if (restart) {
		struct loop_io *other = p.a.io.registered ? &p.a.io : &p.b.io;
		assert_true(other->registered);
		assert_int_equal(other->fd, spare[0]);
		loop_io_stop(l, other);
	}
	loop_free(l);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
		close(spare[i]);
	}
}

static void test_io_stop_drops_pending_event(void **state)
{
	(void)state;
	run_pair(false);
}

static void test_io_stop_then_start_in_batch(void **state)
{
	(void)state;
	run_pair(true);
}

/* loop_io_close: closes the fd and drops the io's pending event in the same batch. */
struct close_pair {
	struct loop_io a, b;
	int calls;
};

static void close_pair_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct close_pair *p = io->ctx;
	struct loop_io *other = io == &p->a ? &p->b : &p->a;

	(void)events;
	p->calls++;
	loop_io_close(l, io, io->fd);
	loop_io_close(l, other, other->fd);
	loop_defer(l, pair_stop_defer, NULL);
}

static void test_io_close_drops_pending_event(void **state)
{
	struct loop *l = loop_new();
	struct close_pair p = {.calls = 0};
	int pa[2], pb[2];

	(void)state;
	assert_int_equal(pipe2(pa, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(pb, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(write(pa[1], "a", 1), 1);
	assert_int_equal(write(pb[1], "b", 1), 1);
	assert_int_equal(loop_io_start(l, &p.a, pa[0], LOOP_READ, close_pair_cb, &p), 0);
	assert_int_equal(loop_io_start(l, &p.b, pb[0], LOOP_READ, close_pair_cb, &p), 0);
	run_guarded(l);
	assert_int_equal(p.calls, 1);
	assert_false(p.a.registered);
	assert_false(p.b.registered);
	assert_int_equal(fcntl(pa[0], F_GETFD), -1); /* closed */
	assert_int_equal(fcntl(pb[0], F_GETFD), -1);
	loop_free(l);
	close(pa[1]);
	close(pb[1]);
}

/* ---- defers ---- */

struct defer_log {
	int seen[16];
	int n;
};

struct defer_item {
	struct defer_log *log;
	int id;
	struct defer_item *chain; /* queued by this defer when it runs */
};

static void defer_item_cb(struct loop *l, void *ctx)
{
	struct defer_item *d = ctx;

	d->log->seen[d->log->n++] = d->id;
	if (d->chain != NULL) {
		loop_defer(l, defer_item_cb, d->chain);
	}
}

static void defer_io_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct defer_item *items = io->ctx;

	(void)events;
	loop_io_stop(l, io);
	loop_defer(l, defer_item_cb, &items[0]);
	loop_defer(l, defer_item_cb, &items[1]);
	loop_defer(l, defer_item_cb, &items[2]);
	loop_defer(l, stop_cb, NULL);
	/* Defers wait for the batch: none may have run yet. */
	assert_int_equal(items[0].log->n, 0);
}

static void test_defer_fifo(void **state)
{
	struct loop *l = loop_new();
	struct defer_log log = {.n = 0};
	struct defer_item items[5] = {
		{&log, 1, NULL},      {&log, 2, &items[3]}, {&log, 3, NULL},
		{&log, 4, &items[4]}, {&log, 5, NULL},
	};
	struct loop_io io;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_io_start(l, &io, p[0], LOOP_READ, defer_io_cb, items), 0);
	run_guarded(l);
	/* 1 2 3 stop, then 4 (queued by 2) and 5 (queued by 4): the queue drains fully. */
	int want[] = {1, 2, 3, 4, 5};
	assert_int_equal(log.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(log.seen[i], want[i]);
	}
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void free_defer_cb(struct loop *l, void *ctx)
{
	(void)l;
	free(ctx);
}

/* loop_free runs what is still deferred (valgrind shows no leak) and leaves other fds open. */
static void test_free_runs_defers_keeps_fds(void **state)
{
	struct loop *l = loop_new();
	struct loop_io io;
	struct loop_timer t;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(loop_io_start(l, &io, p[0], LOOP_READ, io_rec_stop_cb, NULL), 0);
	loop_timer_init(&t);
	loop_timer_start(l, &t, 1000, stop_cb, NULL);
	loop_defer(l, free_defer_cb, malloc(32));
	loop_free(l);
	assert_false(loop_timer_armed(&t));
	assert_int_not_equal(fcntl(p[0], F_GETFD), -1);
	close(p[0]);
	close(p[1]);
	loop_free(NULL);
}

/* A timer re-arming itself with 0 ms must not starve io. */
struct spinner {
	struct loop_timer t;
	int fires;
};

static void spinner_cb(struct loop *l, void *ctx)
{
	struct spinner *s = ctx;

	s->fires++;
	loop_timer_start(l, &s->t, 0, spinner_cb, s);
}

static void test_zero_timer_does_not_starve(void **state)
{
	struct loop *l = loop_new();
	struct spinner s = {.fires = 0};
	struct io_rec r = {.calls = 0};
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	loop_timer_init(&s.t);
	loop_timer_start(l, &s.t, 0, spinner_cb, &s);
	assert_int_equal(loop_io_start(l, &r.io, p[0], LOOP_READ, io_rec_stop_cb, &r), 0);
	run_guarded(l);
	assert_int_equal(r.calls, 1);
	assert_int_equal(s.fires, 1);
	loop_timer_stop(l, &s.t);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

/* loop_run can be run again after loop_stop. */
static void test_run_twice(void **state)
{
	struct loop *l = loop_new();
	struct loop_timer t;

	(void)state;
	loop_timer_init(&t);
	loop_timer_start(l, &t, 1, stop_cb, NULL);
	run_guarded(l);
	loop_timer_start(l, &t, 1, stop_cb, NULL);
	run_guarded(l);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_stop_cancels),
		cmocka_unit_test(test_timer_stopped_by_other_timer),
		cmocka_unit_test(test_timer_heap_many),
		cmocka_unit_test(test_now_advances),
		cmocka_unit_test(test_io_read),
		cmocka_unit_test(test_io_write_and_set),
		cmocka_unit_test(test_io_error_always_delivered),
		cmocka_unit_test(test_io_start_errors),
		cmocka_unit_test(test_io_stop_drops_pending_event),
		cmocka_unit_test(test_io_stop_then_start_in_batch),
		cmocka_unit_test(test_io_close_drops_pending_event),
		cmocka_unit_test(test_defer_fifo),
		cmocka_unit_test(test_free_runs_defers_keeps_fds),
		cmocka_unit_test(test_zero_timer_does_not_starve),
		cmocka_unit_test(test_run_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
