/* A client connection (session.h): the transport's bytes go into the SSH engine, its output
 * back out, logins are decided here and channel events go to channel.c. */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/authorized_keys.h"
#include "auth/cert.h"
#include "auth/revoked.h"
#include "channel_direct_tcpip.h"
#include "channel_session.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "settings.h"
#include "ssh/key.h"
#include "ssh/key_cert.h"
#include "ssh/ssh.h"
#include "transport/transport.h"
#include "worker.h"
#include "xmalloc.h"

#define SESSION_READS_PER_WAKEUP  4
#define SESSION_CLOSE_FLUSH_MS	  2000
#define SESSION_SHUTDOWN_FLUSH_MS 300
/* Re-key at least this often even when little data moves (the engine re-keys by volume). */
#define SESSION_REKEY_MS (3600 * 1000)
/* The client is read only while our output to it stays under a bound: before login two
 * maximum-size pre-auth packets, after it twice the engine's output limit (channel data
 * alone never passes the limit: the engine pauses channels there). A client that floods us
 * with messages that each earn a reply, and never reads, then stops being read instead of
 * growing our memory; one that keeps us stuck there for settings.stall_ms (30 s) is
 * disconnected. */
#define SESSION_PREAUTH_OUT_MAX (2 * 64 * 1024)

/* The channel types a session serves. */
static const struct chan_type *const session_chan_types[] = {&chan_direct_tcpip, &chan_session,
							     NULL};

static void session_io_cb(void *ctx, unsigned events);
static void session_write(struct session *s);
static void session_output(void *owner);

static void grace_expired(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	(void)l;
	if (ssh_authenticated(s->ssh))
		return;
	log_info("login grace time exceeded remote_addr=%s", s->addr);
	s->grace_expired = true;
	session_close(s, "login grace time exceeded");
}

static void start_grace(struct session *s)
{
	loop_timer_start(s->w->loop, &s->grace_timer,
			 (uint64_t)s->set->cfg->login_grace_time_s * 1000, grace_expired, s);
}

static void rekey_due(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	ssh_rekey(s->ssh);
	loop_timer_start(l, &s->rekey_timer, SESSION_REKEY_MS, rekey_due, s);
	session_output(s);
}

static void close_flush_expired(struct loop *l, void *ctx)
{
	(void)l;
	session_close(ctx, "peer did not read");
}

static void stall_expired(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	(void)l;
	log_info("connection dropped remote_addr=%s reason=\"peer does not read\"", s->addr);
	session_close(s, "output stayed full");
}

/* OpenSSH's ClientAliveInterval: the timer fires every interval and is not touched per read
 * (the read only stamps last_rx_ms); a client silent for a whole interval gets a probe, and
 * once --client-alive-count-max probes each had an interval to be answered, it is dropped. */
static void alive_due(struct loop *l, void *ctx)
{
	struct session *s = ctx;
	const struct config *cfg = s->set->cfg;
	uint64_t interval = (uint64_t)cfg->client_alive_interval_s * 1000;
	uint64_t quiet = loop_now_ms(l) - s->last_rx_ms;

	if (quiet < interval) {
		loop_timer_start(l, &s->alive_timer, interval - quiet, alive_due, s);
		return;
	}
	if (cfg->client_alive_count_max > 0 && ++s->alive_probes > cfg->client_alive_count_max) {
		log_info("connection dropped remote_addr=%s reason=\"client not responding\" "
			 "probes=%u",
			 s->addr, cfg->client_alive_count_max);
		session_close(s, "client not responding");
		return;
	}
	ssh_keepalive(s->ssh);
	session_output(s);
	loop_timer_start(l, &s->alive_timer, interval, alive_due, s);
}

/* How much output may wait before the client stops being read. */
static size_t out_bound(const struct session *s)
{
	return ssh_authenticated(s->ssh) ? 2 * s->w->ssh.out_limit : SESSION_PREAUTH_OUT_MAX;
}

/* The last channel is gone: while shutting down, that ends the session. */
static void channels_empty(void *owner)
{
	struct session *s = owner;

	if (s->w->draining && !s->freed)
		session_shutdown(s);
}

static void session_init_channels(struct session *s)
{
	s->chans = (struct channel_set){
		.ssh = s->ssh,
		.w = s->w,
		.session_id = s->id,
		.addr = s->addr,
		.types = session_chan_types,
		.output = session_output,
		.empty = channels_empty,
		.owner = s,
	};
}

struct session *session_new(const struct settings *set, struct worker *w, struct transport *tr,
			    const struct sockaddr_storage *peer, const struct session_hooks *hooks,
			    void *owner)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->tr = tr;
	transport_set_owner(tr, session_io_cb, s);
	s->set = settings_ref(set);
	s->w = w;
	s->hooks = hooks;
	s->owner = owner;
	w->fds_used++;
	s->peer = *peer;
	s->id = ++w->next_session_id;
	s->start_ms = loop_now_ms(w->loop);
	net_addr_str(peer, s->addr, sizeof(s->addr));
	s->ssh = ssh_new(&w->ssh);
	s->tr->quickack = true;
	session_init_channels(s);
	loop_timer_init(&s->grace_timer);
	loop_timer_init(&s->close_timer);
	loop_timer_init(&s->rekey_timer);
	loop_timer_init(&s->stall_timer);
	loop_timer_init(&s->alive_timer);
	log_info("connection opened remote_addr=%s transport=%s", s->addr, transport_name(s->tr));
	if (!tr->late_start)
		start_grace(s);
	session_output(s);
	return s;
}

static void free_principals(struct session *s)
{
	for (size_t i = 0; s->principals && s->principals[i]; i++)
		free(s->principals[i]);
	free(s->principals);
	s->principals = NULL;
}

static void session_free_cb(struct loop *l, void *ctx)
{
	struct session *s = ctx;

	(void)l;
	ssh_free(s->ssh);
	settings_unref(s->auth_set);
	settings_unref(s->set);
	free_principals(s);
	free(s);
}

void session_close(struct session *s, const char *why)
{
	struct loop *l = s->w->loop;

	if (s->freed)
		return;
	s->freed = true;
	channel_set_release(&s->chans);
	loop_timer_stop(l, &s->grace_timer);
	loop_timer_stop(l, &s->close_timer);
	loop_timer_stop(l, &s->rekey_timer);
	loop_timer_stop(l, &s->stall_timer);
	loop_timer_stop(l, &s->alive_timer);
	transport_close(s->tr);
	s->tr = NULL;
	uint64_t ms = loop_now_ms(l) - s->start_ms;
	char refused[32] = "";
	if (s->chans.policy_refused > 0)
		snprintf(refused, sizeof(refused), " policy_refused=%u", s->chans.policy_refused);
	log_info("connection closed remote_addr=%s duration=%llu.%llus%s", s->addr,
		 (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100), refused);
	log_debug("session %llu: %s", (unsigned long long)s->id, why);
	worker_user_put(s->w, s->chans.user);
	s->chans.user = NULL;
	s->w->fds_used--;
	s->hooks->closed(s->owner, s);
	loop_defer(l, session_free_cb, s);
}

/* Stops reading and closes once the output (e.g. a DISCONNECT) is written, or after a while. */
static void session_close_after_flush(struct session *s, uint64_t ms)
{
	if (s->closing || s->freed)
		return;
	s->closing = true;
	loop_timer_start(s->w->loop, &s->close_timer, ms, close_flush_expired, s);
}

void session_shutdown(struct session *s)
{
	if (s->freed)
		return;
	ssh_disconnect(s->ssh, SSH_DISCONNECT_BY_APPLICATION, "server shutting down");
	session_close_after_flush(s, SESSION_SHUTDOWN_FLUSH_MS);
	session_output(s);
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
static void session_output(void *owner)
{
	struct session *s = owner;

	if (s->freed || s->flush_queued)
		return;
	s->flush_queued = true;
	loop_defer(s->w->loop, flush_deferred, s);
}

/* Writes as much SSH output as the transport takes; asks for write readiness only while some
 * is left. Channels that stopped because the output was full resume once it is low. */
static void session_write(struct session *s)
{
	size_t len;
	const uint8_t *p;

	if (ssh_out_full(s->ssh))
		s->out_blocked = true;
	while (!s->freed && (p = ssh_out_data(s->ssh, &len), len > 0)) {
		ssize_t n = transport_write(s->tr, p, len);
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
	size_t unsent = transport_unsent(s->tr); /* e.g. TLS records waiting for the socket */
	if (len == 0 && unsent == 0 && s->closing) {
		session_close(s, "closed");
		return;
	}
	bool stalled = len >= out_bound(s);
	if (stalled && !loop_timer_armed(&s->stall_timer))
		loop_timer_start(s->w->loop, &s->stall_timer, s->set->stall_ms, stall_expired, s);
	else if (!stalled)
		loop_timer_stop(s->w->loop, &s->stall_timer);
	unsigned want = s->closing || stalled ? 0 : TRANSPORT_READ;
	transport_want(s->tr, want | (len > 0 || unsent > 0 ? TRANSPORT_WRITE : 0));
	if (s->out_blocked && ssh_out_low(s->ssh)) {
		s->out_blocked = false;
		channel_set_pump(&s->chans);
	}
}

/* A failed attempt: logged for fail2ban (every peer string escaped: one line per event, and
 * result=reject stays on the attacker's line), counted against --max-auth-attempts. why is
 * one of our fixed reasons (never the peer's text). */
static void auth_failed(struct session *s, const char *user, const char *method,
			const struct ssh_key *key, const char *why)
{
	char safe_user[LOG_SAFE_LEN], safe_method[LOG_SAFE_LEN], fp[SSH_KEY_FP_LEN];
	unsigned n = ++s->auth_failures;

	log_safe(user, safe_user, sizeof(safe_user));
	if (key) {
		ssh_key_fingerprint(key, fp);
		log_info("auth attempt remote_addr=%s user=%s key_fingerprint=%s result=reject "
			 "attempt=%u reason=\"%s\"",
			 s->addr, safe_user, fp, n, why);
	} else {
		log_safe(method, safe_method, sizeof(safe_method));
		log_info("auth attempt remote_addr=%s user=%s method=%s result=reject attempt=%u "
			 "reason=\"%s\"",
			 s->addr, safe_user, safe_method, n, why);
	}
	if (n >= s->set->cfg->max_auth_attempts) {
		log_warn("too many auth failures remote_addr=%s attempts=%u", s->addr, n);
		ssh_disconnect(s->ssh, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
			       "too many authentication failures");
		session_close_after_flush(s, SESSION_CLOSE_FLUSH_MS);
	}
}

/* " key_id=ID serial=N ca_fingerprint=FP" for the accept line (the key ID escaped). */
static void cert_log_fields(const struct ssh_cert *c, char *out, size_t outlen)
{
	char id[LOG_SAFE_LEN], ca[SSH_KEY_FP_LEN];

	ssh_key_fingerprint(c->ca_key, ca);
	snprintf(out, outlen, " key_id=%s serial=%llu ca_fingerprint=%s",
		 log_safe(c->key_id, id, sizeof(id)), (unsigned long long)c->serial, ca);
}

/* A login succeeded: logged, the grace timer gives way to the re-key timer, and the key's
 * channel counts (--max-channels-per-user) start. Before the answer, which frees the
 * request's user and key. */
static void login_accepted(struct session *s, const struct ssh_event *ev,
			   const struct policy_permits *permits)
{
	char safe_user[LOG_SAFE_LEN], fp[SSH_KEY_FP_LEN], cert[LOG_SAFE_LEN + 160] = "";

	ssh_key_fingerprint(ev->key, fp);
	/* The grants stay those of this login: the snapshot holding them is kept. */
	s->auth_set = settings_ref(s->w->set);
	snprintf(s->key_fp, sizeof(s->key_fp), "%s", fp);
	s->subject = (struct policy_subject){
		.key_fp = s->key_fp,
		.principals = ev->cert ? (const char *const *)s->principals : NULL,
		.permits = permits};
	s->chans.subject = &s->subject;
	if (ev->cert)
		cert_log_fields(ev->cert, cert, sizeof(cert));
	log_info("auth attempt remote_addr=%s user=%s key_fingerprint=%s%s result=accept%s",
		 s->addr, log_safe(ev->user, safe_user, sizeof(safe_user)), fp, cert,
		 s->chans.no_port_forwarding ? " port_forwarding=denied" : "");
	loop_timer_stop(s->w->loop, &s->grace_timer);
	loop_timer_start(s->w->loop, &s->rekey_timer, SESSION_REKEY_MS, rekey_due, s);
	if (s->set->cfg->client_alive_interval_s > 0)
		loop_timer_start(s->w->loop, &s->alive_timer,
				 (uint64_t)s->set->cfg->client_alive_interval_s * 1000, alive_due,
				 s);
	s->tr->quickack = false;
	s->chans.user = ev->cert ? worker_user_get_cert(s->w, ev->cert) : worker_user_get(s->w, fp);
	s->chans.control_allowed = s->w->set->cfg->control_allow;
	s->logged_in = true;
	s->hooks->logged_in(s->owner, s);
}

/* A certificate (--cert-authority): NULL if it may log in, else why not. Decided against the
 * current settings, like keys. Sets the session's forwarding permission. */
/* The certificate's principals, for `principal NAME` policy rules (the certificate itself
 * goes with the request). */
static void keep_principals(struct session *s, const struct ssh_cert *c)
{
	free_principals(s);
	s->principals = xcalloc(c->n_principals + 1, sizeof(*s->principals));
	for (size_t i = 0; i < c->n_principals; i++)
		s->principals[i] = xstrdup(c->principals[i]);
}

/* The CA that signed ev's certificate: one of --cert-authority, else a cert-authority line of
 * authorized_keys (its principals= and options apply, like OpenSSH's). */
static const char *cert_refusal(struct session *s, const struct ssh_event *ev,
				const struct policy_permits **permits)
{
	const struct settings *set = s->w->set;
	struct cert_ctx ctx = {.user = ev->user,
			       .peer = &s->peer,
			       .now = (uint64_t)time(NULL),
			       .skew = set->cfg->cert_clock_skew_s};
	struct cert_grant grant = {0};
	const struct ssh_key *ca = cert_cas_find(set->cas, ev->cert->ca_key);
	const struct authkeys_entry *line = NULL;
	const char *why = NULL;
	size_t n = 0;

	if (ca == NULL && (line = authkeys_find_ca(set->authkeys, ev->cert->ca_key)) != NULL) {
		ca = line->key;
		while (line->opts.principals && line->opts.principals[n])
			n++;
		why = authkeys_entry_refusal(line, &s->peer, (int64_t)time(NULL));
		*permits = &line->opts.permits;
	}
	if (why == NULL)
		why = cert_check(ev->cert, ca,
				 line && line->opts.principals
					 ? (const char *const *)line->opts.principals
					 : NULL,
				 n, &ctx, &grant);
	if (why == NULL)
		why = revoked_cert(set->revoked, ev->cert);
	if (why == NULL && grant.force_command)
		log_debug("session %llu: certificate force-command ignored (nothing is run)",
			  (unsigned long long)s->id);
	s->chans.no_port_forwarding = !grant.port_forwarding;
	if (why == NULL)
		keep_principals(s, ev->cert);
	return why;
}

/* Why the client's key (or certificate) may not log in, or NULL. */
/* Why this request may not log in (one of our fixed texts), or NULL; *permits gets what its
 * authorized_keys line grants (NULL for a certificate: its own grants, policy.h). */
static const char *auth_refusal(struct session *s, const struct ssh_event *ev,
				const struct policy_permits **permits)
{
	const struct settings *set = s->w->set; /* the current one */

	*permits = NULL;
	if (ev->cert)
		return cert_refusal(s, ev, permits);
	s->chans.no_port_forwarding = false;
	const struct authkeys_entry *e = authkeys_find(set->authkeys, ev->key);
	if (e == NULL)
		return "unknown key";
	const char *why = authkeys_entry_refusal(e, &s->peer, (int64_t)time(NULL));
	if (why == NULL && revoked_key(set->revoked, ev->key))
		why = "key revoked";
	*permits = &e->opts.permits;
	return why;
}

static void auth_decide(struct session *s, const struct ssh_event *ev)
{
	const struct policy_permits *permits;
	const char *why = auth_refusal(s, ev, &permits);

	if (why != NULL) {
		auth_failed(s, ev->user, ev->method, ev->key, why);
		ssh_auth_reject(s->ssh);
		return;
	}
	if (!ev->has_sig) {
		ssh_auth_accept(s->ssh); /* PK_OK: the client will now sign */
		return;
	}
	/* Only a key we know is worth a signature check. */
	if (ssh_auth_verify(s->ssh)) {
		login_accepted(s, ev, permits);
		ssh_auth_accept(s->ssh);
		return;
	}
	auth_failed(s, ev->user, ev->method, ev->key, "bad signature");
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
		channel_set_pump(&s->chans);
		break;
	case SSH_EV_AUTH_REQUEST:
		auth_decide(s, ev);
		break;
	case SSH_EV_AUTH_REFUSED:
		auth_failed(s, ev->user, ev->method, NULL, ev->text);
		break;
	case SSH_EV_CHANNEL_OPEN:
		channel_open(&s->chans, ev);
		break;
	case SSH_EV_CHANNEL_DATA:
		channel_recv_data(event_channel(ev), ev->data, ev->len);
		break;
	case SSH_EV_CHANNEL_EOF:
		channel_recv_eof(event_channel(ev));
		break;
	case SSH_EV_CHANNEL_CLOSE:
		channel_recv_close(event_channel(ev));
		break;
	case SSH_EV_CHANNEL_WINDOW:
		channel_recv_window(event_channel(ev));
		break;
	case SSH_EV_CHANNEL_REQUEST:
		channel_recv_request(&s->chans, ev);
		break;
	case SSH_EV_DISCONNECT:
		/* For fail2ban and the operator: a client that offers nothing we speak. The text
		 * is one of the engine's fixed strings (kex.c), never the peer's. */
		if (!ev->peer && ev->reason == SSH_DISCONNECT_KEY_EXCHANGE_FAILED)
			log_info("negotiation failed remote_addr=%s reason=\"%s\"", s->addr,
				 ev->text);
		log_debug("session %llu: disconnect %s: %s", (unsigned long long)s->id,
			  ev->peer ? "by peer" : "by us", ev->peer ? "" : ev->text);
		session_close_after_flush(s, SESSION_CLOSE_FLUSH_MS);
		break;
	default:
		break;
	}
}

/* Runs the engine over what was read. Client data is sent from the pinned input buffer at the
 * end of the pass, one send per target (relay.h). */
static void session_process(struct session *s)
{
	struct ssh_event ev;

	ssh_in_pin(s->ssh, true);
	while (!s->freed && ssh_next_event(s->ssh, &ev))
		handle_event(s, &ev);
	relay_batch_flush(&s->w->batch);
	if (!s->freed)
		ssh_in_pin(s->ssh, false);
	session_output(s);
}

/* Reads a bounded amount per wake-up so one busy session can't starve the others. */
static void session_read(struct session *s)
{
	for (int i = 0; i < SESSION_READS_PER_WAKEUP; i++) {
		size_t avail;
		uint8_t *p = ssh_in_space(s->ssh, &avail);
		ssize_t n = transport_read(s->tr, p, avail);
		if (n > 0 && !s->logged_in && !loop_timer_armed(&s->grace_timer))
			start_grace(s); /* a late-start transport's first bytes */
		if (n > 0) {
			ssh_in_commit(s->ssh, (size_t)n);
			s->last_rx_ms = loop_now_ms(s->w->loop);
			s->alive_probes = 0;
			if ((size_t)n < avail && transport_buffered(s->tr) == 0)
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

static void session_io_cb(void *ctx, unsigned events)
{
	struct session *s = ctx;

	if (events & (TRANSPORT_READ | TRANSPORT_ERROR)) {
		if (s->closing && !(events & TRANSPORT_READ)) {
			session_close(s, "connection error");
			return;
		}
		if (!s->closing)
			session_read(s);
	}
	if (!s->freed && (events & TRANSPORT_WRITE))
		session_output(s);
}
