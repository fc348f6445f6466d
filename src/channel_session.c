/* session channels (channel_session.h): every request is answered from here and nothing is
 * executed. The state holds only which request ran and a static message still to send; client
 * data is discarded and its window given back at once, so nothing grows. Log lines carry ids
 * and request names we know, never a command or what the client typed. */
#include "channel_session.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "channel.h"
#include "log.h"
#include "ssh/buf.h"
#include "ssh/ssh.h"
#include "xmalloc.h"

#define SESSCHAN_CTRL_C 0x03
#define SESSCHAN_CTRL_D 0x04

/* With a pty the client's terminal is raw: lines end in \r\n. Without one, the escape
 * character (~.) is off in OpenSSH, and Ctrl-C stops the local ssh. */
static const char shell_msg_pty[] =
	"alknet: this server only forwards TCP; it runs no shell or commands.\r\n"
	"Your tunnels are up. Press Ctrl-C or Ctrl-D, or type ~. to close.\r\n";
static const char shell_msg_plain[] =
	"alknet: this server only forwards TCP; it runs no shell or commands.\n"
	"Your tunnels are up. Press Ctrl-C to close.\n";
static const char exec_msg_pty[] =
	"alknet: this server only forwards TCP; commands are not run.\r\n";
static const char exec_msg_plain[] =
	"alknet: this server only forwards TCP; commands are not run.\n";
static const char subsystem_msg[] =
	"alknet: this server only forwards TCP; subsystems such as sftp are not available.\n";

enum sesschan_mode {
	SESSCHAN_IDLE = 0,    /* no shell, exec or subsystem yet */
	SESSCHAN_SHELL = 1,   /* greeting sent or on its way; open until the client closes */
	SESSCHAN_EXEC = 2,    /* message, exit-status 1, EOF, CLOSE */
	SESSCHAN_REFUSED = 3, /* subsystem: message, exit-status 1, EOF, CLOSE */
};

struct sesschan {
	enum sesschan_mode mode;
	bool pty;
	const char *out; /* static text still to send */
	size_t out_left;
	bool out_stderr;
	bool finish; /* once out is sent: exit-status (if has_status), EOF, CLOSE */
	bool has_status;
	uint32_t status;
};

/* RFC 4254 §8. */
static int parse_modes(const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		uint8_t op = p[off++];
		if (op == 0 || op >= 160)
			return 0;
		if (n - off < 4)
			return -EBADMSG;
		off += 4;
	}
	return 0;
}

int sesschan_parse_pty(const uint8_t *p, size_t n, struct sesschan_pty *out)
{
	struct sreader r;
	size_t mlen;

	sreader_init(&r, p, n);
	(void)sreader_string(&r, &out->term_len);
	out->cols = sreader_u32(&r);
	out->rows = sreader_u32(&r);
	out->width_px = sreader_u32(&r);
	out->height_px = sreader_u32(&r);
	const uint8_t *modes = sreader_string(&r, &mlen);
	if (!sreader_end(&r) || parse_modes(modes, mlen) != 0)
		return -EBADMSG;
	out->modes_len = mlen;
	return 0;
}

int sesschan_parse_string(const uint8_t *p, size_t n, size_t *len)
{
	struct sreader r;

	sreader_init(&r, p, n);
	(void)sreader_string(&r, len);
	return sreader_end(&r) ? 0 : -EBADMSG;
}

static struct sesschan *sesschan_of(const struct channel *c)
{
	return c->state;
}

static void sesschan_open(struct channel *c, const uint8_t *data, size_t len)
{
	(void)data;
	if (len != 0) { /* "session" has no type-specific fields */
		channel_refuse(c, SSH_OPEN_CONNECT_FAILED, "malformed request");
		return;
	}
	c->state = xcalloc(1, sizeof(struct sesschan));
	log_info("session channel opened session=%llu channel=%u",
		 (unsigned long long)channel_session_id(c), ssh_channel_id(c->sch));
	channel_confirm(c);
}

/* Sends what is left of the message as far as the client's window allows. Returns true once
 * all of it is out; otherwise the window op comes back when there is room. */
static bool send_out(struct channel *c, struct sesschan *st)
{
	struct ssh *s = channel_ssh(c);

	while (st->out_left > 0) {
		size_t n = st->out_stderr
				   ? ssh_channel_write_ext(s, c->sch, SSH_EXTENDED_DATA_STDERR,
							   st->out, st->out_left)
				   : ssh_channel_write(s, c->sch, st->out, st->out_left);
		if (n == 0)
			return false;
		st->out += n;
		st->out_left -= n;
		channel_output(c);
	}
	return true;
}

static void finish(struct channel *c, struct sesschan *st)
{
	struct ssh *s = channel_ssh(c);

	st->finish = false;
	if (st->has_status) {
		uint8_t b[4];
		put_u32be(b, st->status);
		ssh_channel_send_request(s, c->sch, "exit-status", b, sizeof(b));
	}
	ssh_channel_send_eof(s, c->sch);
	channel_close(c);
}

/* Room to send, and the follow-up of every request (channel.c calls it after the answer). */
static void sesschan_window(struct channel *c)
{
	struct sesschan *st = sesschan_of(c);

	if (send_out(c, st) && st->finish)
		finish(c, st);
}

static void set_out(struct sesschan *st, const char *msg, size_t len, bool on_stderr)
{
	st->out = msg;
	st->out_left = len;
	st->out_stderr = on_stderr;
}

static bool req_pty(struct sesschan *st, const uint8_t *data, size_t len)
{
	struct sesschan_pty pty;

	if (st->mode != SESSCHAN_IDLE || st->pty || sesschan_parse_pty(data, len, &pty) != 0)
		return false;
	st->pty = true; /* only remembered: it decides line ends and Ctrl-C/Ctrl-D */
	return true;
}

static bool req_shell(struct sesschan *st, size_t len)
{
	if (st->mode != SESSCHAN_IDLE || len != 0)
		return false;
	st->mode = SESSCHAN_SHELL;
	if (st->pty)
		set_out(st, shell_msg_pty, sizeof(shell_msg_pty) - 1, false);
	else
		set_out(st, shell_msg_plain, sizeof(shell_msg_plain) - 1, false);
	return true;
}

/* Granted, so that the client shows the message and the exit status instead of "exec request
 * failed"; the command is neither run nor looked at beyond its length field. */
static bool req_exec(struct sesschan *st, const uint8_t *data, size_t len)
{
	size_t cmd_len;

	if (st->mode != SESSCHAN_IDLE || sesschan_parse_string(data, len, &cmd_len) != 0)
		return false;
	st->mode = SESSCHAN_EXEC;
	if (st->pty)
		set_out(st, exec_msg_pty, sizeof(exec_msg_pty) - 1, true);
	else
		set_out(st, exec_msg_plain, sizeof(exec_msg_plain) - 1, true);
	st->finish = st->has_status = true;
	st->status = 1;
	return true;
}

/* Refused the way exec is: the request is granted only so that the client shows the message
 * (OpenSSH's client exits at a FAILURE without printing stderr it already has), then exit
 * status 1, EOF and CLOSE; no subsystem ever runs. */
static bool req_subsystem(struct sesschan *st, const uint8_t *data, size_t len)
{
	size_t name_len;

	if (st->mode != SESSCHAN_IDLE || sesschan_parse_string(data, len, &name_len) != 0)
		return false;
	st->mode = SESSCHAN_REFUSED;
	set_out(st, subsystem_msg, sizeof(subsystem_msg) - 1, true);
	st->finish = st->has_status = true;
	st->status = 1;
	return true;
}

/* Requests worth an INFO line; the rest (window-change on every resize, env, ...) are debug. */
static const char *const logged_requests[] = {"pty-req", "shell", "exec", "subsystem", NULL};

static void log_request(const struct channel *c, const char *name, bool ok)
{
	for (const char *const *n = logged_requests; *n != NULL; n++) {
		if (strcmp(*n, name) == 0) {
			log_info("session channel request session=%llu channel=%u request=%s "
				 "result=%s",
				 (unsigned long long)channel_session_id(c), ssh_channel_id(c->sch),
				 *n, ok ? "ok" : "refused");
			return;
		}
	}
	char safe[LOG_SAFE_LEN];
	log_debug("session channel request session=%llu channel=%u request=%s result=refused",
		  (unsigned long long)channel_session_id(c), ssh_channel_id(c->sch),
		  log_safe(name, safe, sizeof(safe)));
}

/* env, x11-req, auth-agent-req@openssh.com, window-change, signal, break and anything unknown
 * are refused (channel.c answers FAILURE when asked to, and otherwise nothing happens). */
static bool sesschan_request(struct channel *c, const char *name, const uint8_t *data, size_t len,
			     bool want_reply)
{
	struct sesschan *st = sesschan_of(c);
	bool ok = false;

	(void)want_reply;
	if (strcmp(name, "pty-req") == 0)
		ok = req_pty(st, data, len);
	else if (strcmp(name, "shell") == 0)
		ok = req_shell(st, len);
	else if (strcmp(name, "exec") == 0)
		ok = req_exec(st, data, len);
	else if (strcmp(name, "subsystem") == 0)
		ok = req_subsystem(st, data, len);
	log_request(c, name, ok && st->mode != SESSCHAN_REFUSED); /* subsystem: granted to show why
								     it is refused */
	return ok;
}

/* Typed bytes are thrown away and the window handed back. With a pty, Ctrl-C or Ctrl-D ends
 * the shell with exit-status 0 (the user chose to leave; OpenSSH's client then exits 0). */
static void sesschan_data(struct channel *c, const uint8_t *p, size_t len)
{
	struct sesschan *st = sesschan_of(c);

	ssh_channel_consumed(channel_ssh(c), c->sch, len);
	channel_output(c);
	if (st->mode != SESSCHAN_SHELL || !st->pty || st->finish)
		return;
	if (memchr(p, SESSCHAN_CTRL_C, len) == NULL && memchr(p, SESSCHAN_CTRL_D, len) == NULL)
		return;
	log_info("session channel closed by user session=%llu channel=%u",
		 (unsigned long long)channel_session_id(c), ssh_channel_id(c->sch));
	st->out_left = 0; /* a greeting still waiting for the window is dropped */
	st->finish = st->has_status = true;
	st->status = 0;
	sesschan_window(c);
}

/* A client with stdin at /dev/null sends EOF at once and still wants its tunnels: ignored. */
static void sesschan_eof(struct channel *c)
{
	(void)c;
}

static bool sesschan_close(struct channel *c)
{
	(void)c;
	return true;
}

static void sesschan_release(struct channel *c)
{
	(void)c; /* nothing but the state's memory, which channel.c frees */
}

const struct chan_type chan_session = {
	.name = "session",
	.uses_fd = false,
	.open = sesschan_open,
	.data = sesschan_data,
	.eof = sesschan_eof,
	.window = sesschan_window,
	.close = sesschan_close,
	.release = sesschan_release,
	.request = sesschan_request,
};
