/* The control channel (channel_control.c) on a real engine and the test client, as session.c
 * drives it: direct-tcpip's pick op routes alknet-control:0 here without counting a
 * descriptor, the permission check, frames between two channels of one session (whole and
 * split across packets), and a malformed frame closing only its own channel with the reason
 * on stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "channel_direct_tcpip.h"
#include "config.h"
#include "engine_pair.h"
#include "hub.h"
#include "loop.h"
#include "settings.h"
#include "worker.h"

static const struct chan_type *const types[] = {&chan_direct_tcpip, NULL};

struct env {
	struct pair *p;
	struct worker w;
	struct config cfg;
	struct settings set; /* the test's reference keeps it from being freed */
	struct channel_set cs;
};

static void on_output(void *owner)
{
	(void)owner;
}

static int setup(void **state)
{
	struct ssh_config scfg = {.window = 65536};
	struct env *e = calloc(1, sizeof(*e));

	e->p = connected(NULL, &scfg);
	e->p->auto_open = false;
	e->w.loop = loop_new();
	e->w.hub = hub_new();
	config_defaults(&e->cfg);
	e->cfg.control_allow = true;
	e->cfg.control_max_frame = 1024;
	e->set.refs = 1;
	e->set.cfg = &e->cfg;
	e->w.set = &e->set;
	e->cs = (struct channel_set){.ssh = e->p->s,
				     .w = &e->w,
				     .session_id = 1,
				     .types = types,
				     .addr = "192.0.2.1",
				     .control_allowed = true,
				     .output = on_output,
				     .owner = e};
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	channel_set_release(&e->cs);
	loop_free(e->w.loop);
	assert_int_equal(hub_topics(e->w.hub), 0);
	hub_free(e->w.hub);
	pair_free(e->p);
	free(e);
	return 0;
}

static void dispatch(struct env *e)
{
	struct ssh_event ev;

	feed(e->p);
	while (next(e->p, &ev)) {
		struct channel *c = ev.ch ? ssh_channel_user(ev.ch) : NULL;
		if (ev.type == SSH_EV_CHANNEL_OPEN)
			channel_open(&e->cs, &ev);
		else if (ev.type == SSH_EV_CHANNEL_DATA)
			channel_recv_data(c, ev.data, ev.len);
		else if (ev.type == SSH_EV_CHANNEL_EOF)
			channel_recv_eof(c);
		else if (ev.type == SSH_EV_CHANNEL_CLOSE)
			channel_recv_close(c);
		else if (ev.type == SSH_EV_CHANNEL_WINDOW)
			channel_recv_window(c);
	}
	s2c(e->p);
}

/* Opens alknet-control:0 as client channel id: confirmed (reason NULL; returns the server's
 * channel number, which the client's messages name), or refused with the reason code put in
 * *reason. */
static uint32_t open_control(struct env *e, uint32_t id, uint32_t *reason)
{
	struct sbuf m;
	struct sreader r;

	tc_open_direct(&e->p->c, id, 65536, 32768, "alknet-control", 0, "127.0.0.1", 1);
	dispatch(e);
	expect_msg(e->p, reason ? M_OPEN_FAILURE : M_OPEN_CONFIRMATION, &m, &r);
	assert_int_equal(sreader_u32(&r), id);
	uint32_t v = sreader_u32(&r);
	if (reason)
		*reason = v;
	sbuf_free(&m);
	return v;
}

static void send_frame(struct env *e, uint32_t id, const char *json)
{
	uint8_t b[512];
	size_t n = strlen(json);

	b[0] = b[1] = 0;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + 4, json, n);
	tc_data(&e->p->c, id, b, n + 4);
}

static void expect_frame(struct env *e, uint32_t id, const char *json)
{
	struct sbuf m;
	struct sreader r;
	size_t n;

	expect_msg(e->p, M_DATA, &m, &r);
	assert_int_equal(sreader_u32(&r), id);
	const uint8_t *d = sreader_string(&r, &n);
	assert_int_equal(n, strlen(json) + 4);
	assert_memory_equal(d + 4, json, strlen(json));
	sbuf_free(&m);
}

static void test_refused_without_permission(void **state)
{
	struct env *e = *state;
	uint32_t reason;

	e->cs.control_allowed = false;
	open_control(e, 5, &reason);
	assert_int_equal(reason, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED);
	e->cs.control_allowed = true;
	e->cfg.control_allow = false; /* a reload to deny */
	open_control(e, 6, &reason);
	assert_int_equal(reason, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED);
	assert_int_equal(e->cs.count, 0);
}

static void test_frames_between_channels(void **state)
{
	struct env *e = *state;
	const char *ev = "{\"type\":\"t\",\"id\":\"1\",\"payload\":{\"x\":[1,2]}}";

	uint32_t s5 = open_control(e, 5, NULL), s6 = open_control(e, 6, NULL);
	assert_int_equal(e->cs.count, 2);
	assert_int_equal(e->w.fds_used, 0); /* served by the control type: no socket */
	send_frame(e, s5, "{\"type\":\"__subscribe\",\"payload\":{\"topic\":\"t\"}}");
	send_frame(e, s6, ev);
	dispatch(e);
	expect_frame(e, 5, ev);
	expect_no_msg(e->p);
	/* a frame split over three packets, the header itself cut */
	uint8_t b[128];
	size_t n = strlen(ev);
	b[0] = b[1] = b[2] = 0;
	b[3] = (uint8_t)n;
	memcpy(b + 4, ev, n);
	tc_data(&e->p->c, s6, b, 2);
	tc_data(&e->p->c, s6, b + 2, 10);
	tc_data(&e->p->c, s6, b + 12, n + 4 - 12);
	dispatch(e);
	expect_frame(e, 5, ev);
}

static void test_malformed_closes_only_it(void **state)
{
	struct env *e = *state;
	struct sbuf m;
	struct sreader r;
	size_t n;

	uint32_t s5 = open_control(e, 5, NULL), s6 = open_control(e, 6, NULL);
	send_frame(e, s5, "{\"type\":\"__subscribe\",\"payload\":{\"topic\":\"t\"}}");
	send_frame(e, s6, "{\"type\":\"t\",}");
	dispatch(e);
	expect_msg(e->p, M_EXTENDED_DATA, &m, &r);
	assert_int_equal(sreader_u32(&r), 6);
	assert_int_equal(sreader_u32(&r), SSH_EXTENDED_DATA_STDERR);
	const uint8_t *d = sreader_string(&r, &n);
	assert_int_equal(n, strlen("alknet-control: invalid JSON\n"));
	assert_memory_equal(d, "alknet-control: invalid JSON\n", n);
	sbuf_free(&m);
	expect_msg(e->p, M_EOF, &m, &r);
	sbuf_free(&m);
	expect_msg(e->p, M_CLOSE, &m, &r);
	assert_int_equal(sreader_u32(&r), 6);
	sbuf_free(&m);
	tc_close(&e->p->c, s6);
	dispatch(e);
	assert_int_equal(e->cs.count, 1);
	uint32_t s7 = open_control(e, 7, NULL);
	send_frame(e, s7, "{\"type\":\"t\"}");
	dispatch(e);
	expect_frame(e, 5, "{\"type\":\"t\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refused_without_permission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_between_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_closes_only_it, setup, teardown),
	};
	if (pair_globals_init() != 0)
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return r;
}
