/* A client connection: feeds the socket to the SSH engine, writes its output, decides auth and
 * hands channel events to channel.c / relay.c. */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "auth/authorized_keys.h"
#include "channel.h"
#include "log.h"
#include "net.h"
#include "relay.h"
#include "server.h"
#include "ssh/key.h"
#include "ssh/ssh.h"
#include "xmalloc.h"

#define SESSION_READS_PER_WAKEUP 4
#define SESSION_CLOSE_FLUSH_MS 2000
#define SESSION_SHUTDOWN_FLUSH_MS 300
/* Re-key at least this often even when little data moves (the engine re-keys by volume). */
#define SESSION_REKEY_MS (3600 * 1000)

static void session_io_cb(struct loop *l, struct loop_io *io, unsigned events);
static void session_write(struct session *s);

static void grace_expired(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	(void)l;
	if (ssh_authenticated(s->ssh))
		return;
	log_info("login grace time exceeded remote_addr=%s", s->addr);
	session_close(s, "login grace time exceeded");
}

static void rekey_due(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	ssh_rekey(s->ssh);
	loop_timer_start(l, &s->rekey_timer, SESSION_REKEY_MS, rekey_due, s);
	session_flush(s);
}

static void close_flush_expired(struct loop *l, void *ctx)
{
	(void)l;
	session_close(ctx, "peer did not read");
}

struct session *session_new(struct server *srv, int fd, const struct sockaddr_storage *peer)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->fd = fd;
	s->peer = *peer;
	s->id = ++srv->next_session_id;
	s->start_ms = loop_now_ms(srv->loop);
	net_addr_str(peer, s->addr, sizeof(s->addr));
	s->ssh = ssh_new(&srv->ssh_cfg);
	loop_timer_init(&s->grace_timer);
	loop_timer_init(&s->close_timer);
	loop_timer_init(&s->rekey_timer);
	server_session_opened(srv, s);
	net_set_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 }, sizeof(int));
	log_info("connection opened remote_addr=%s transport=tcp", s->addr);
	if (loop_io_start(srv->loop, &s->io, fd, LOOP_READ, session_io_cb, s) != 0) {
		session_close(s, "cannot poll");
		return s;
	}
	loop_timer_start(srv->loop, &s->grace_timer, (uint64_t)srv->cfg->login_grace_time_s * 1000,
			 grace_expired, s);
	session_flush(s);
	return s;
}

static void session_free_cb(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	(void)l;
	ssh_free(s->ssh);
	free(s);
}

void session_close(struct session *s, const char *why)
{
	if (s->freed)
		return;
	s->freed = true;
	while (s->channels)
		channel_free(s->channels);
	loop_timer_stop(s->srv->loop, &s->grace_timer);
	loop_timer_stop(s->srv->loop, &s->close_timer);
	loop_timer_stop(s->srv->loop, &s->rekey_timer);
	loop_io_close(s->srv->loop, &s->io, s->fd);
	s->fd = -1;
	uint64_t ms = loop_now_ms(s->srv->loop) - s->start_ms;
	log_info("connection closed remote_addr=%s duration=%llu.%llus", s->addr,
		 (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
	log_debug("session %llu: %s", (unsigned long long)s->id, why);
	server_session_closed(s->srv, s);
	loop_defer(s->srv->loop, session_free_cb, s);
}

/* Stops reading and closes once the output (e.g. a DISCONNECT) is written, or after a while. */
static void session_close_after_flush(struct session *s, uint64_t ms)
{
	if (s->closing || s->freed)
		return;
	s->closing = true;
	loop_timer_start(s->srv->loop, &s->close_timer, ms, close_flush_expired, s);
}

void session_shutdown(struct session *s)
{
	if (s->freed)
		return;
	ssh_disconnect(s->ssh, SSH_DISCONNECT_BY_APPLICATION, "server shutting down");
	session_close_after_flush(s, SESSION_SHUTDOWN_FLUSH_MS);
	session_flush(s);
}

static void flush_deferred(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	(void)l;
	s->flush_queued = false;
	if (!s->freed)
		session_write(s);
}

/* Output made anywhere during one loop pass goes out in one write after the pass (a channel
 * confirmation, its first data and an EOF share one segment instead of three). */
void session_flush(struct session *s)
{
	if (s->freed || s->flush_queued)
		return;
	s->flush_queued = true;
	loop_defer(s->srv->loop, flush_deferred, s);
}

int session_channel_count(const struct session *s)
{
	int n = 0;

	for (const struct channel *c = s->channels; c; c = c->next)
		n++;
	return n;
}

static void pump_all(struct session *s)
{
	for (struct channel *c = s->channels; c && !s->freed;) {
		struct channel *next = c->next;
		relay_update(c);
		c = next;
	}
}

/* Writes as much SSH output as the socket takes; arms LOOP_WRITE only while some is left. */
static void session_write(struct session *s)
{
	size_t len;
	const uint8_t *p;

	while (!s->freed && (p = ssh_out_data(s->ssh, &len), len > 0)) {
		ssize_t n = write(s->fd, p, len);
		if (n > 0) {
			ssh_out_consume(s->ssh, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		session_close(s, "write failed");
		return;
	}
	if (s->freed)
		return;
	if (len == 0 && s->closing) {
		session_close(s, "closed");
		return;
	}
	unsigned want = (s->closing ? 0 : LOOP_READ) | (len > 0 ? LOOP_WRITE : 0);
	loop_io_set(s->srv->loop, &s->io, want);
	if (s->out_blocked && ssh_out_low(s->ssh)) {
		s->out_blocked = false;
		pump_all(s);
	}
}

/* A failed attempt: logged for fail2ban, counted against --max-auth-attempts. */
static void auth_failed(struct session *s, const char *user, const char *method,
			const struct ssh_key *key)
{
	char safe_user[400], fp[SSH_KEY_FP_LEN];

	log_safe(user, safe_user, sizeof(safe_user));
	if (key) {
		ssh_key_fingerprint(key, fp);
		log_info("auth attempt remote_addr=%s user=%s key_fingerprint=%s result=reject",
			 s->addr, safe_user, fp);
	} else {
		log_info("auth attempt remote_addr=%s user=%s method=%s result=reject", s->addr,
			 safe_user, method);
	}
	if (++s->auth_failures >= s->srv->cfg->max_auth_attempts) {
		log_warn("too many auth failures remote_addr=%s attempts=%u", s->addr,
			 s->auth_failures);
		ssh_disconnect(s->ssh, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
			       "too many authentication failures");
		session_close_after_flush(s, SESSION_CLOSE_FLUSH_MS);
	}
}

static void auth_decide(struct session *s, const struct ssh_event *ev)
{
	bool known = authkeys_contains(s->srv->authkeys, ev->key);

	if (known && !ev->has_sig) {
		ssh_auth_accept(s->ssh); /* PK_OK: the client will now sign */
		return;
	}
	if (known && ev->sig_ok) {
		/* Log first: the answer frees the request's user and key. */
		char safe_user[400], fp[SSH_KEY_FP_LEN];
		ssh_key_fingerprint(ev->key, fp);
		log_info("auth attempt remote_addr=%s user=%s key_fingerprint=%s result=accept",
			 s->addr, log_safe(ev->user, safe_user, sizeof(safe_user)), fp);
		loop_timer_stop(s->srv->loop, &s->grace_timer);
		loop_timer_start(s->srv->loop, &s->rekey_timer, SESSION_REKEY_MS, rekey_due, s);
		ssh_auth_accept(s->ssh);
		return;
	}
	auth_failed(s, ev->user, ev->method, ev->key);
	ssh_auth_reject(s->ssh);
}

static struct channel *event_channel(const struct ssh_event *ev)
{
	return ssh_channel_user(ev->ch);
}

static void handle_event(struct session *s, const struct ssh_event *ev)
{
	switch (ev->type) {
	case SSH_EV_KEX_DONE:
		log_debug("session %llu: key exchange done", (unsigned long long)s->id);
		pump_all(s);
		break;
	case SSH_EV_AUTH_REQUEST:
		auth_decide(s, ev);
		break;
	case SSH_EV_AUTH_REFUSED:
		auth_failed(s, ev->user, ev->method, NULL);
		break;
	case SSH_EV_CHANNEL_OPEN:
		channel_open(s, ev);
		break;
	case SSH_EV_CHANNEL_DATA:
		relay_to_target(event_channel(ev), ev->data, ev->len);
		break;
	case SSH_EV_CHANNEL_EOF:
		channel_on_eof(event_channel(ev));
		break;
	case SSH_EV_CHANNEL_CLOSE:
		channel_on_close(event_channel(ev));
		break;
	case SSH_EV_CHANNEL_WINDOW:
		relay_update(event_channel(ev));
		break;
	case SSH_EV_GLOBAL_REQUEST:
		break;
	case SSH_EV_DISCONNECT:
		log_debug("session %llu: disconnect %s: %s", (unsigned long long)s->id,
			  ev->peer ? "by peer" : "by us", ev->peer ? "" : ev->text);
		session_close_after_flush(s, SESSION_CLOSE_FLUSH_MS);
		break;
	default:
		break;
	}
}

static void session_process(struct session *s)
{
	struct ssh_event ev;

	/* Client data is sent from the input buffer at the end of the pass (relay.h). */
	ssh_in_pin(s->ssh, true);
	while (!s->freed && ssh_next_event(s->ssh, &ev))
		handle_event(s, &ev);
	/* Client data was gathered per channel: one send per target per pass. */
	struct channel *c = s->dirty;
	s->dirty = NULL;
	while (c) {
		struct channel *next = c->dirty_next;
		c->dirty = false;
		c->dirty_next = NULL;
		if (!s->freed)
			relay_flush(c);
		c = next;
	}
	s->srv->batch.n = 0;
	if (!s->freed)
		ssh_in_pin(s->ssh, false);
	session_flush(s);
}

/* Reads a bounded amount per wake-up so one busy session can't starve the others. */
static void session_read(struct session *s)
{
	for (int i = 0; i < SESSION_READS_PER_WAKEUP; i++) {
		size_t avail;
		uint8_t *p = ssh_in_space(s->ssh, &avail);
		ssize_t n = read(s->fd, p, avail);
		if (n > 0) {
			ssh_in_commit(s->ssh, (size_t)n);
			/* During the handshake, acknowledge at once: clients without TCP_NODELAY
			 * otherwise wait a delayed-ACK period (40 ms) between two small writes. */
			if (!ssh_authenticated(s->ssh))
				setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
			if ((size_t)n < avail)
				break;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		session_process(s); /* whatever arrived before the end still counts */
		session_close(s, n == 0 ? "closed by peer" : "read failed");
		return;
	}
	session_process(s);
}

static void session_io_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct session *s = io->ctx;

	(void)l;
	if (events & (LOOP_READ | LOOP_ERROR)) {
		if (s->closing && !(events & LOOP_READ)) {
			session_close(s, "connection error");
			return;
		}
		if (!s->closing)
			session_read(s);
	}
	if (!s->freed && (events & LOOP_WRITE))
		session_flush(s);
}
