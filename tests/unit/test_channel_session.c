/* The session channel type (channel_session.c) on a real engine and the test client, as
 * session.c drives it: what each request gets and in which order, that nothing but the
 * client's CLOSE (or Ctrl-C/Ctrl-D with a pty) ends a shell, that typed data is given back as
 * window, that the messages respect a small client window; and the request parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "channel_session.h"
#include "engine_pair.h"
#include "loop.h"
#include "settings.h"
#include "worker.h"

static const struct chan_type *const types[] = {&chan_session, NULL};

struct env {
	struct pair *p;
	struct worker w;
	struct settings set; /* the test's reference keeps it from being freed */
	struct channel_set cs;
};

static void on_output(void *owner)
{
	(void)owner;
}

static int setup(void **state)
{
	struct ssh_config cfg = {.window = 8192};
	struct env *e = calloc(1, sizeof(*e));

	e->p = connected(NULL, &cfg);
	e->p->auto_open = false;
	e->w.loop = loop_new();
	e->set.refs = 1;
	e->w.set = &e->set;
	e->cs = (struct channel_set){.ssh = e->p->s,
				     .w = &e->w,
				     .session_id = 1,
				     .types = types,
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
	pair_free(e->p);
	free(e);
	return 0;
}

/* Every ready engine event to channel.c, as session.c does; then the output to the client. */
static void dispatch(struct env *e)
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
		case SSH_EV_CHANNEL_REQUEST:
			channel_recv_request(&e->cs, &ev);
			break;
		default:
			break;
		}
	}
	s2c(e->p);
}

/* Opens a session channel with client id 5; the client's window and max packet as given. */
static void open_session(struct env *e, uint32_t window, uint32_t maxpacket)
{
	struct sbuf m;
	struct sreader r;

	tc_open_type(&e->p->c, "session", 5, window, maxpacket);
	dispatch(e);
	expect_msg(e->p, M_OPEN_CONFIRMATION, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	assert_int_equal(sreader_u32(&r), 0);
	sbuf_free(&m);
	assert_int_equal(e->cs.count, 1);
}

static void expect_bare(struct env *e, uint8_t msg)
{
	struct sbuf m;
	struct sreader r;

	expect_msg(e->p, msg, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	assert_int_equal(sreader_left(&r), 0);
	sbuf_free(&m);
}

/* The next message is DATA (code 0) or EXTENDED_DATA of code; appends its bytes to out. */
static void expect_data(struct env *e, uint32_t code, struct sbuf *out)
{
	struct sbuf m;
	struct sreader r;
	size_t n;

	expect_msg(e->p, code ? M_EXTENDED_DATA : M_DATA, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	if (code)
		assert_int_equal(sreader_u32(&r), code);
	const uint8_t *d = sreader_string(&r, &n);
	assert_true(sreader_end(&r));
	sbuf_put(out, d, n);
	sbuf_free(&m);
}

static void expect_exit_status(struct env *e, uint32_t status)
{
	struct sbuf m;
	struct sreader r;

	expect_msg(e->p, M_CHANNEL_REQUEST, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	expect_str(&r, "exit-status");
	assert_false(sreader_bool(&r));
	assert_int_equal(sreader_u32(&r), status);
	assert_true(sreader_end(&r));
	sbuf_free(&m);
}

static bool has(const struct sbuf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

/* A pty-req as OpenSSH sends it: TERM, size, modes ending in TTY_OP_END. */
static void pty_req(struct sbuf *b)
{
	static const uint8_t modes[] = {1, 0, 0, 0, 3, 53, 0, 0, 0, 1, 0};

	sbuf_put_cstring(b, "xterm-256color");
	sbuf_put_u32(b, 80);
	sbuf_put_u32(b, 24);
	sbuf_put_u32(b, 640);
	sbuf_put_u32(b, 480);
	sbuf_put_string(b, modes, sizeof(modes));
}

static void test_parsers(void **state)
{
	struct sesschan_pty pty;
	struct sbuf b = {0};
	size_t len;
	(void)state;

	pty_req(&b);
	assert_int_equal(sesschan_parse_pty(b.data, b.len, &pty), 0);
	assert_int_equal(pty.term_len, 14);
	assert_int_equal(pty.cols, 80);
	assert_int_equal(pty.rows, 24);
	assert_int_equal(pty.modes_len, 11);
	assert_int_not_equal(sesschan_parse_pty(b.data, b.len - 1, &pty), 0); /* short */
	sbuf_put_u8(&b, 0);
	assert_int_not_equal(sesschan_parse_pty(b.data, b.len, &pty), 0); /* trailing byte */
	sbuf_reset(&b);
	/* paramiko: an empty list of modes; a mode without its argument is malformed; an
	 * opcode of 160 and above stops the parse. */
	sbuf_put_cstring(&b, "vt100");
	for (int i = 0; i < 4; i++)
		sbuf_put_u32(&b, 0);
	size_t base = b.len;
	sbuf_put_string(&b, "", 0);
	assert_int_equal(sesschan_parse_pty(b.data, b.len, &pty), 0);
	b.len = base;
	sbuf_put_string(&b, "\x01\x00\x00", 3);
	assert_int_not_equal(sesschan_parse_pty(b.data, b.len, &pty), 0);
	b.len = base;
	sbuf_put_string(&b, "\xa0\x01", 2);
	assert_int_equal(sesschan_parse_pty(b.data, b.len, &pty), 0);
	sbuf_reset(&b);
	sbuf_put_cstring(&b, "ls -l");
	assert_int_equal(sesschan_parse_string(b.data, b.len, &len), 0);
	assert_int_equal(len, 5);
	assert_int_not_equal(sesschan_parse_string(b.data, b.len - 1, &len), 0);
	sbuf_put_u8(&b, 'x');
	assert_int_not_equal(sesschan_parse_string(b.data, b.len, &len), 0);
	assert_int_not_equal(sesschan_parse_string(NULL, 0, &len), 0);
	sbuf_free(&b);
}

static void test_open_with_bytes_refused(void **state)
{
	struct env *e = *state;
	struct sbuf b = {0};
	struct sbuf m;
	struct sreader r;

	sbuf_put_u8(&b, 90);
	sbuf_put_cstring(&b, "session");
	sbuf_put_u32(&b, 5);
	sbuf_put_u32(&b, 1000);
	sbuf_put_u32(&b, 1000);
	sbuf_put_u8(&b, 0);
	tc_send_sbuf(&e->p->c, &b);
	dispatch(e);
	expect_msg(e->p, M_OPEN_FAILURE, &m, &r);
	assert_int_equal(sreader_u32(&r), 5);
	assert_int_equal(sreader_u32(&r), SSH_OPEN_CONNECT_FAILED);
	sbuf_free(&m);
	assert_int_equal(e->cs.count, 0);
}

/* No pty: SUCCESS, then the message with \n; EOF, typed data and Ctrl-C change nothing, and
 * the typed bytes come back as window. Only the client's CLOSE ends it. */
static void test_shell_stays_open(void **state)
{
	struct env *e = *state;
	struct sbuf out = {0};
	uint8_t typed[6000];

	open_session(e, 65536, 32768);
	tc_channel_request(&e->p->c, 0, "shell", true);
	dispatch(e);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_data(e, 0, &out);
	assert_true(has(&out, "only forwards TCP"));
	assert_true(has(&out, "Press Ctrl-C to close.\n"));
	assert_false(has(&out, "\r"));
	sbuf_free(&out); /* expect_msg below fills it afresh */
	expect_no_msg(e->p);
	memset(typed, 3, sizeof(typed));
	tc_data(&e->p->c, 0, typed, sizeof(typed));
	tc_eof(&e->p->c, 0);
	dispatch(e);
	expect_msg(e->p, M_WINDOW_ADJUST, &out, &(struct sreader){0});
	sbuf_free(&out);
	expect_no_msg(e->p);
	assert_int_equal(e->cs.count, 1);
	tc_close(&e->p->c, 0);
	dispatch(e);
	expect_bare(e, M_CLOSE);
	assert_int_equal(e->cs.count, 0);
}

/* With a pty: \r\n line ends, and Ctrl-D ends the shell with exit-status 0, EOF, CLOSE. */
static void test_pty_shell_ctrl_d_closes(void **state)
{
	struct env *e = *state;
	struct sbuf out = {0}, b = {0};

	open_session(e, 65536, 32768);
	pty_req(&b);
	tc_channel_request_data(&e->p->c, 0, "pty-req", true, b.data, b.len);
	sbuf_free(&b);
	tc_channel_request(&e->p->c, 0, "shell", true);
	dispatch(e);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_data(e, 0, &out);
	assert_true(has(&out, "type ~. to close.\r\n"));
	sbuf_free(&out);
	tc_data(&e->p->c, 0, "ls\x04", 3);
	dispatch(e);
	expect_exit_status(e, 0);
	expect_bare(e, M_EOF);
	expect_bare(e, M_CLOSE);
	expect_no_msg(e->p);
}

/* exec: SUCCESS, one stderr line, exit-status 1, EOF, CLOSE, in that order. */
static void test_exec_message_and_status(void **state)
{
	struct env *e = *state;
	struct sbuf out = {0}, b = {0};

	open_session(e, 65536, 32768);
	sbuf_put_cstring(&b, "touch /tmp/x");
	tc_channel_request_data(&e->p->c, 0, "exec", true, b.data, b.len);
	sbuf_free(&b);
	dispatch(e);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_data(e, SSH_EXTENDED_DATA_STDERR, &out);
	assert_true(has(&out, "commands are not run.\n"));
	sbuf_free(&out);
	expect_exit_status(e, 1);
	expect_bare(e, M_EOF);
	expect_bare(e, M_CLOSE);
	expect_no_msg(e->p);
}

/* subsystem: granted only to show the message: SUCCESS, stderr line, exit-status 1, EOF,
 * CLOSE. */
static void test_subsystem_refused_and_closed(void **state)
{
	struct env *e = *state;
	struct sbuf out = {0}, b = {0};

	open_session(e, 65536, 32768);
	sbuf_put_cstring(&b, "sftp");
	tc_channel_request_data(&e->p->c, 0, "subsystem", true, b.data, b.len);
	sbuf_free(&b);
	dispatch(e);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_data(e, SSH_EXTENDED_DATA_STDERR, &out);
	assert_true(has(&out, "sftp are not available.\n"));
	sbuf_free(&out);
	expect_exit_status(e, 1);
	expect_bare(e, M_EOF);
	expect_bare(e, M_CLOSE);
	expect_no_msg(e->p);
}

/* Everything else fails (when an answer is wanted), and so do a second shell or exec, a
 * malformed pty-req and a shell with bytes after it; the channel goes on. */
static void test_other_requests_fail(void **state)
{
	struct env *e = *state;
	static const char *const names[] = {"env",
					    "x11-req",
					    "auth-agent-req@openssh.com",
					    "window-change",
					    "signal",
					    "break",
					    "foo@example.com",
					    "exit-status",
					    "pty-req"};
	struct sbuf out = {0};

	open_session(e, 65536, 32768);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		tc_channel_request_data(&e->p->c, 0, names[i], true, "\0\0\0\1x", 5);
	tc_channel_request_data(&e->p->c, 0, "shell", true, "x", 1);
	tc_channel_request(&e->p->c, 0, "env", false); /* no answer wanted: none */
	dispatch(e);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) + 1; i++)
		expect_bare(e, M_CHANNEL_FAILURE);
	expect_no_msg(e->p);
	tc_channel_request(&e->p->c, 0, "shell", true);
	tc_channel_request(&e->p->c, 0, "shell", true);
	tc_channel_request_data(&e->p->c, 0, "exec", true, "\0\0\0\0", 4);
	dispatch(e);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_data(e, 0, &out);
	sbuf_free(&out);
	expect_bare(e, M_CHANNEL_FAILURE);
	expect_bare(e, M_CHANNEL_FAILURE);
	expect_no_msg(e->p);
	assert_int_equal(e->cs.count, 1);
	assert_int_equal(e->p->disconnects, 0);
}

/* A client window of 10 bytes: the stderr line goes out 10 bytes at a time as the window
 * opens, and exit-status, EOF and CLOSE only after its last byte. */
static void test_small_window_then_status(void **state)
{
	struct env *e = *state;
	struct sbuf out = {0}, b = {0};

	open_session(e, 10, 32768);
	sbuf_put_cstring(&b, "x");
	tc_channel_request_data(&e->p->c, 0, "exec", true, b.data, b.len);
	sbuf_free(&b);
	dispatch(e);
	expect_bare(e, M_CHANNEL_SUCCESS);
	expect_data(e, SSH_EXTENDED_DATA_STDERR, &out);
	assert_int_equal(out.len, 10);
	expect_no_msg(e->p);
	for (int i = 0; i < 100 && !has(&out, "\n"); i++) {
		tc_window_adjust(&e->p->c, 0, 10);
		dispatch(e);
		expect_data(e, SSH_EXTENDED_DATA_STDERR, &out);
	}
	assert_true(has(&out, "alknet: this server only forwards TCP; commands are not run.\n"));
	sbuf_free(&out);
	expect_exit_status(e, 1);
	expect_bare(e, M_EOF);
	expect_bare(e, M_CLOSE);
	expect_no_msg(e->p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),
		cmocka_unit_test_setup_teardown(test_open_with_bytes_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shell_stays_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pty_shell_ctrl_d_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_message_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subsystem_refused_and_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_requests_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_window_then_status, setup, teardown),
	};
	if (pair_globals_init() != 0)
		return 1;
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return ret;
}
