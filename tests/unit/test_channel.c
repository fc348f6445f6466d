/* The generic channel life (channel.c) with a fake channel type, on a real engine and the test
 * client: the type table, refusals, EOF/data/window delivery, CLOSE from either side, linger,
 * session teardown, and that every channel is released exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "engine_pair.h"
#include "loop.h"
#include "settings.h"
#include "worker.h"

struct fake_state {
	int opens, datas, eofs, windows, closes, releases;
	size_t data_len;
};

/* What the fake type does, set by each test. */
static struct {
	bool refuse;		 /* refuse in open */
	bool linger;		 /* close returns false */
	struct fake_state *last; /* the newest channel's state (freed with it) */
	int releases;		 /* all channels, survives their memory */
	int empties;
} fk;

static void fake_open(struct channel *c, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	if (fk.refuse) {
		channel_refuse(c, SSH_OPEN_CONNECT_FAILED, "fake refused");
		return;
	}
	struct fake_state *st = calloc(1, sizeof(*st));
	st->opens++;
	c->state = st;
	fk.last = st;
	channel_confirm(c);
}

static void fake_data(struct channel *c, const uint8_t *p, size_t len)
{
	struct fake_state *st = c->state;

	(void)p;
	st->datas++;
	st->data_len += len;
	ssh_channel_consumed(channel_ssh(c), c->sch, len);
}

static void fake_eof(struct channel *c)
{
	((struct fake_state *)c->state)->eofs++;
}

static void fake_window(struct channel *c)
{
	((struct fake_state *)c->state)->windows++;
}

static bool fake_close(struct channel *c)
{
	((struct fake_state *)c->state)->closes++;
	return !fk.linger;
}

static void fake_release(struct channel *c)
{
	if (c->state)
		((struct fake_state *)c->state)->releases++;
	fk.releases++;
}

static const struct chan_type fake_type = {
	.name = "fake@test",
	.open = fake_open,
	.data = fake_data,
	.eof = fake_eof,
	.window = fake_window,
	.close = fake_close,
	.release = fake_release,
};
static const struct chan_type *const fake_types[] = {&fake_type, NULL};

struct env2 {
	struct pair *p;
	struct worker w;
	struct settings set; /* the test's reference keeps it from being freed */
	struct channel_set cs;
	int outputs;
};

static void on_output(void *owner)
{
	((struct env2 *)owner)->outputs++;
}

static void on_empty(void *owner)
{
	(void)owner;
	fk.empties++;
}

static int setup(void **state)
{
	struct env2 *e = calloc(1, sizeof(*e));

	memset(&fk, 0, sizeof(fk));
	e->p = connected(NULL, NULL);
	e->p->auto_open = false;
	e->w.loop = loop_new();
	e->set.refs = 1;
	e->w.set = &e->set;
	e->cs = (struct channel_set){.ssh = e->p->s,
				     .w = &e->w,
				     .session_id = 1,
				     .types = fake_types,
				     .output = on_output,
				     .empty = on_empty,
				     .owner = e};
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env2 *e = *state;

	channel_set_release(&e->cs);
	loop_free(e->w.loop); /* runs the deferred frees */
	pair_free(e->p);
	free(e);
	return 0;
}

/* Hands every ready engine event to channel.c, as session.c does. */
static void dispatch(struct env2 *e)
{
	struct ssh_event ev;

	feed(e->p);
	while (next(e->p, &ev)) {
		struct channel *c = ev.ch ? ssh_channel_user(ev.ch) : NULL;
		switch (ev.type) {
		case SSH_EV_CHANNEL_OPEN:
			channel_open(&e->cs, &ev);
			break;
		case SSH_EV_CHANNEL_DATA:
			channel_recv_data(c, ev.data, ev.len);
			break;
		case SSH_EV_CHANNEL_EOF:
			channel_recv_eof(c);
			break;
		case SSH_EV_CHANNEL_CLOSE:
			channel_recv_close(c);
			break;
		case SSH_EV_CHANNEL_WINDOW:
			channel_recv_window(c);
			break;
		default:
			break;
		}
	}
	s2c(e->p);
}

static uint32_t open_fake(struct env2 *e, uint32_t sender)
{
	struct sbuf m;
	struct sreader r;

	tc_open_type(&e->p->c, "fake@test", sender, 65536, 32768);
	dispatch(e);
	expect_msg(e->p, M_OPEN_CONFIRMATION, &m, &r);
	assert_int_equal(sreader_u32(&r), sender);
	uint32_t id = sreader_u32(&r);
	sbuf_free(&m);
	assert_int_equal(e->cs.count, 1);
	return id;
}

static void test_events_reach_the_type_and_client_close_releases_once(void **state)
{
	struct env2 *e = *state;
	struct sbuf m;
	struct sreader r;
	uint32_t id = open_fake(e, 5);
	struct fake_state *st = fk.last;

	tc_data(&e->p->c, id, "hello", 5);
	tc_window_adjust(&e->p->c, id, 1000);
	tc_eof(&e->p->c, id);
	dispatch(e);
	assert_int_equal(st->datas, 1);
	assert_int_equal(st->data_len, 5);
	assert_int_equal(st->eofs, 1);
	tc_close(&e->p->c, id);
	dispatch(e);
	expect_msg(e->p, M_CLOSE, &m, &r); /* the engine answers the CLOSE */
	sbuf_free(&m);
	assert_int_equal(st->closes, 1);
	assert_int_equal(st->releases, 1);
	assert_int_equal(fk.releases, 1);
	assert_int_equal(e->cs.count, 0);
	assert_int_equal(fk.empties, 1);
	assert_true(e->outputs > 0);
}

static void test_refused_in_open_is_released_once(void **state)
{
	struct env2 *e = *state;
	struct sbuf m;
	struct sreader r;

	fk.refuse = true;
	tc_open_type(&e->p->c, "fake@test", 6, 65536, 32768);
	dispatch(e);
	expect_msg(e->p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 6);
	assert_int_equal(sreader_u32(&r), SSH_OPEN_CONNECT_FAILED);
	expect_str(&r, "fake refused");
	sbuf_free(&m);
	assert_int_equal(fk.releases, 1);
	assert_int_equal(e->cs.count, 0);
}

static void test_unknown_type_and_draining_are_refused(void **state)
{
	struct env2 *e = *state;
	struct sbuf m;
	struct sreader r;

	tc_open_type(&e->p->c, "session", 7, 65536, 32768);
	dispatch(e);
	expect_msg(e->p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 7);
	assert_int_equal(sreader_u32(&r), SSH_OPEN_UNKNOWN_CHANNEL_TYPE);
	sbuf_free(&m);
	e->w.draining = true;
	tc_open_type(&e->p->c, "fake@test", 8, 65536, 32768);
	dispatch(e);
	expect_msg(e->p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 8);
	assert_int_equal(sreader_u32(&r), SSH_OPEN_ADMINISTRATIVELY_PROHIBITED);
	expect_str(&r, "server shutting down");
	sbuf_free(&m);
	assert_int_equal(fk.releases, 0); /* nothing was made */
	assert_int_equal(e->cs.count, 0);
}

/* Our CLOSE first: the type is released then, nothing more reaches it, and the client's
 * CLOSE later frees the channel without a second release. */
static void test_close_from_our_side_then_client_close(void **state)
{
	struct env2 *e = *state;
	struct sbuf m;
	struct sreader r;
	uint32_t id = open_fake(e, 9);
	struct fake_state *st = fk.last;

	channel_close(e->cs.list);
	s2c(e->p);
	expect_msg(e->p, M_CLOSE, &m, &r);
	sbuf_free(&m);
	assert_int_equal(st->releases, 1);
	channel_close(e->cs.list); /* again: no-op */
	tc_data(&e->p->c, id, "late", 4);
	tc_close(&e->p->c, id);
	dispatch(e);
	assert_int_equal(st->datas, 0);
	assert_int_equal(st->closes, 0);
	assert_int_equal(fk.releases, 1);
	assert_int_equal(e->cs.count, 0);
}

/* The type keeps the channel after the client's CLOSE (linger), then releases it itself. */
static void test_linger_then_release_by_the_type(void **state)
{
	struct env2 *e = *state;
	uint32_t id = open_fake(e, 10);

	fk.linger = true;
	tc_close(&e->p->c, id);
	dispatch(e);
	assert_int_equal(e->cs.count, 1);
	assert_int_equal(fk.releases, 0);
	assert_null(e->cs.list->sch);
	channel_release(e->cs.list);
	assert_int_equal(fk.releases, 1);
	assert_int_equal(e->cs.count, 0);
	assert_int_equal(fk.empties, 1);
}

static void test_teardown_releases_each_once_without_empty(void **state)
{
	struct env2 *e = *state;

	open_fake(e, 11);
	tc_open_type(&e->p->c, "fake@test", 12, 65536, 32768);
	dispatch(e);
	assert_int_equal(e->cs.count, 2);
	channel_set_pump(&e->cs);
	assert_int_equal(fk.last->windows, 1);
	channel_set_release(&e->cs);
	assert_int_equal(fk.releases, 2);
	assert_int_equal(e->cs.count, 0);
	assert_int_equal(fk.empties, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_events_reach_the_type_and_client_close_releases_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_in_open_is_released_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_and_draining_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_from_our_side_then_client_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_linger_then_release_by_the_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_teardown_releases_each_once_without_empty,
						setup, teardown),
	};
	if (pair_globals_init() != 0)
		return 1;
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return ret;
}
