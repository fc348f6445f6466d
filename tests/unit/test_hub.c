/* hub.c: routing, never back to the sender, order, unsubscribe, the queue limit, sharing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub.h"

/* A test endpoint: what it was sent (drained on ready when it reads), and its callbacks. */
struct ep {
	struct hub_sub *s;
	bool reads; /* drain the queue on ready (a subscriber that keeps up) */
	uint8_t got[4096];
	size_t got_len;
	unsigned ready, overflows;
	size_t overflow_queued;
	bool detach_on_overflow;
};

static void drain(struct ep *e)
{
	const uint8_t *p;
	size_t n;

	while ((p = hub_peek(e->s, &n)) != NULL) {
		assert_true(e->got_len + n <= sizeof(e->got));
		memcpy(e->got + e->got_len, p, n);
		e->got_len += n;
		hub_consume(e->s, n);
	}
}

static void ep_ready(void *ctx)
{
	struct ep *e = ctx;

	e->ready++;
	if (e->reads)
		drain(e);
}

static void ep_overflow(void *ctx, size_t queued)
{
	struct ep *e = ctx;

	e->overflows++;
	e->overflow_queued = queued;
	if (e->detach_on_overflow) {
		hub_detach(e->s);
		e->s = NULL;
	}
}

static const struct hub_sub_ops ops = {.ready = ep_ready, .overflow = ep_overflow};

static void attach(struct hub *h, struct ep *e, size_t max_queue, bool reads)
{
	memset(e, 0, sizeof(*e));
	e->reads = reads;
	e->s = hub_attach(h, max_queue, &ops, e);
}

static void sub(struct ep *e, const char *topic)
{
	assert_int_equal(hub_subscribe(e->s, topic, strlen(topic)), 0);
}

static void pub(struct ep *e, const char *topic, const char *frame)
{
	hub_publish(e->s, topic, strlen(topic), (const uint8_t *)frame, strlen(frame));
}

static void test_routes_by_topic_never_to_sender(void **state)
{
	struct hub *h = hub_new();
	struct ep a, b, c;
	(void)state;
	attach(h, &a, 1 << 20, true);
	attach(h, &b, 1 << 20, true);
	attach(h, &c, 1 << 20, true);
	sub(&a, "t");
	sub(&b, "t");
	sub(&c, "u");
	pub(&a, "t", "one");
	pub(&c, "t", "two");
	pub(&a, "nobody", "lost");
	assert_int_equal(a.got_len, 3);
	assert_memory_equal(a.got, "two", 3);
	assert_int_equal(b.got_len, 6);
	assert_memory_equal(b.got, "onetwo", 6); /* in publish order */
	assert_int_equal(c.got_len, 0);
	assert_int_equal(hub_topics(h), 2);
	hub_detach(a.s);
	hub_detach(b.s);
	assert_int_equal(hub_topics(h), 1);
	hub_detach(c.s);
	assert_int_equal(hub_topics(h), 0);
	hub_free(h);
}

static void test_subscribe_twice_and_unsubscribe(void **state)
{
	struct hub *h = hub_new();
	struct ep a, b;
	(void)state;
	attach(h, &a, 1 << 20, true);
	attach(h, &b, 1 << 20, true);
	sub(&a, "t");
	sub(&a, "t");
	assert_int_equal(hub_sub_topics(a.s), 1);
	pub(&b, "t", "x");
	assert_int_equal(a.got_len, 1);
	hub_unsubscribe(a.s, "t", 1);
	hub_unsubscribe(a.s, "never", 5);
	assert_int_equal(hub_topics(h), 0);
	pub(&b, "t", "y");
	assert_int_equal(a.got_len, 1);
	/* topics are byte strings: "t" and "t\0" differ */
	assert_int_equal(hub_subscribe(a.s, "t\0", 2), 0);
	pub(&b, "t", "z");
	assert_int_equal(a.got_len, 1);
	hub_publish(b.s, "t\0", 2, (const uint8_t *)"w", 1);
	assert_int_equal(a.got_len, 2);
	hub_detach(a.s);
	hub_detach(b.s);
	hub_free(h);
}

static void test_topic_limit(void **state)
{
	struct hub *h = hub_new();
	struct ep a;
	char name[16];
	(void)state;
	attach(h, &a, 1 << 20, true);
	for (int i = 0; i < HUB_MAX_TOPICS; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		sub(&a, name);
	}
	assert_int_equal(hub_subscribe(a.s, "more", 4), -ENOSPC);
	assert_int_equal(hub_subscribe(a.s, "t0", 2), 0); /* held already */
	hub_detach(a.s);
	assert_int_equal(hub_topics(h), 0);
	hub_free(h);
}

/* A reader that doesn't read is cut off at its limit; the others keep receiving. */
static void test_slow_subscriber_cut_off(void **state)
{
	struct hub *h = hub_new();
	struct ep pubr, fast, slow;
	char frame[100];
	(void)state;
	size_t cost = 100 + HUB_ENTRY_COST;
	attach(h, &pubr, 1 << 20, true);
	attach(h, &fast, 1 << 20, true);
	attach(h, &slow, 3 * cost, false);
	sub(&fast, "t");
	sub(&slow, "t");
	memset(frame, 'f', sizeof(frame) - 1);
	frame[99] = '\0';
	frame[0] = '\0';
	for (int i = 0; i < 3; i++)
		hub_publish(pubr.s, "t", 1, (const uint8_t *)frame, 100);
	assert_int_equal(hub_queued(slow.s), 3 * cost);
	assert_int_equal(slow.ready, 3);
	assert_int_equal(slow.overflows, 0);
	slow.detach_on_overflow = true;
	hub_publish(pubr.s, "t", 1, (const uint8_t *)frame, 100);
	assert_int_equal(slow.overflows, 1);
	assert_int_equal(slow.overflow_queued, 4 * cost);
	assert_null(slow.s);
	for (int i = 0; i < 5; i++)
		hub_publish(pubr.s, "t", 1, (const uint8_t *)frame, 100);
	assert_int_equal(fast.got_len, 9 * 100);
	assert_int_equal(hub_queued(fast.s), 0);
	hub_detach(fast.s);
	hub_detach(pubr.s);
	hub_free(h);
}

/* Cut off but not detached: it gets nothing more and is told once. */
static void test_dead_subscriber_gets_nothing(void **state)
{
	struct hub *h = hub_new();
	struct ep p, s;
	(void)state;
	attach(h, &p, 1 << 20, true);
	attach(h, &s, HUB_ENTRY_COST + 4, false);
	sub(&s, "t");
	pub(&p, "t", "abcd");
	pub(&p, "t", "e");
	assert_int_equal(s.overflows, 1);
	assert_int_equal(hub_queued(s.s), 0);
	size_t n;
	assert_null(hub_peek(s.s, &n));
	pub(&p, "t", "f");
	assert_int_equal(s.overflows, 1);
	assert_int_equal(s.ready, 1);
	hub_detach(s.s);
	hub_detach(p.s);
	hub_free(h);
}

/* Partial sends keep their place; a frame bigger than the whole limit cuts off at once. */
static void test_partial_consume_and_oversized(void **state)
{
	struct hub *h = hub_new();
	struct ep p, s, tiny;
	size_t n;
	(void)state;
	attach(h, &p, 1 << 20, true);
	attach(h, &s, 1 << 20, false);
	attach(h, &tiny, 8, false);
	sub(&s, "t");
	sub(&tiny, "t");
	pub(&p, "t", "hello");
	pub(&p, "t", "world");
	assert_int_equal(tiny.overflows, 1);
	const uint8_t *q = hub_peek(s.s, &n);
	assert_int_equal(n, 5);
	hub_consume(s.s, 3);
	q = hub_peek(s.s, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(q, "lo", 2);
	hub_consume(s.s, 4); /* across the frame boundary */
	q = hub_peek(s.s, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(q, "rld", 3);
	hub_consume(s.s, 3);
	assert_int_equal(hub_queued(s.s), 0);
	hub_detach(tiny.s);
	hub_detach(s.s); /* with nothing queued */
	hub_detach(p.s);
	hub_free(h);
}

/* Detaching with frames still queued frees them (ASan/valgrind would see a leak). */
static void test_detach_with_queue(void **state)
{
	struct hub *h = hub_new();
	struct ep p, a, b;
	(void)state;
	attach(h, &p, 1 << 20, true);
	attach(h, &a, 1 << 20, false);
	attach(h, &b, 1 << 20, false);
	sub(&a, "t");
	sub(&b, "t");
	for (int i = 0; i < 10; i++)
		pub(&p, "t", "shared frame");
	hub_detach(a.s);
	size_t n;
	assert_non_null(hub_peek(b.s, &n));
	hub_detach(b.s);
	hub_detach(p.s);
	hub_detach(NULL);
	hub_free(h);
	hub_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_by_topic_never_to_sender),
		cmocka_unit_test(test_subscribe_twice_and_unsubscribe),
		cmocka_unit_test(test_topic_limit),
		cmocka_unit_test(test_slow_subscriber_cut_off),
		cmocka_unit_test(test_dead_subscriber_gets_nothing),
		cmocka_unit_test(test_partial_consume_and_oversized),
		cmocka_unit_test(test_detach_with_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
