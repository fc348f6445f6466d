/* The server: loads keys, listens, accepts, counts connections per address, and shuts down
 * gracefully on SIGTERM/SIGINT. */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/authorized_keys.h"
#include "hostkey.h"
#include "limits.h"
#include "log.h"
#include "net.h"
#include "proxy/proxy_url.h"
#include "session.h"
#include "ssh/key.h"
#include "xmalloc.h"

#define SERVER_ACCEPTS_PER_WAKEUP 64
#define SERVER_REFUSE_LOG_MS	  10000
#define SERVER_RESOLVER_THREADS	  4

static void session_opened(struct server *srv, struct session *s)
{
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->n_sessions++;
}

/* A session that never logged in earns its source a penalty by how it ended (OpenSSH's
 * PerSourcePenalties): the grace time ran out, it failed auth attempts, or it made none. Not
 * while shutting down: then we ended it. */
static void penalise(struct server *srv, const struct session *s)
{
	enum penalty_kind kind = s->grace_expired	? PENALTY_GRACE
				 : s->auth_failures > 0 ? PENALTY_AUTHFAIL
							: PENALTY_NOAUTH;

	if (s->logged_in || srv->w.draining)
		return;
	if (limits_penalise(srv->limits, &srv->w, &s->peer, kind))
		log_debug("penalty remote_addr=%s reason=%s", s->addr,
			  kind == PENALTY_GRACE	     ? "grace-exceeded"
			  : kind == PENALTY_AUTHFAIL ? "authfail"
						     : "noauth");
}

/* A session is closing: off the list, its address counted out (and penalised), and the end
 * of a drain. */
static void session_closed(void *owner, struct session *s)
{
	struct server *srv = owner;

	if (s->prev)
		s->prev->next = s->next;
	else if (srv->sessions == s)
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	srv->n_sessions--;
	penalise(srv, s);
	limits_closed(srv->limits, &s->peer, s->logged_in);
	if (srv->w.draining && srv->n_sessions == 0)
		loop_stop(srv->w.loop);
}

static void session_logged_in(void *owner, struct session *s)
{
	struct server *srv = owner;

	limits_logged_in(srv->limits, &s->peer);
}

static const struct session_hooks server_session_hooks = {
	.logged_in = session_logged_in,
	.closed = session_closed,
};

/* One WARN line per SERVER_REFUSE_LOG_MS for refused connections, with how many were refused
 * since the last line: a flood of connections must not become a flood of log lines. */
static void log_refused(struct server *srv, const struct sockaddr_storage *peer, const char *reason)
{
	uint64_t now = loop_now_ms(srv->w.loop);
	char addr[64];

	if (srv->refused_log_ms != 0 && now - srv->refused_log_ms < SERVER_REFUSE_LOG_MS) {
		srv->refused_held++;
		return;
	}
	net_addr_str(peer, addr, sizeof(addr));
	log_warn("connection refused remote_addr=%s reason=%s suppressed=%u", addr, reason,
		 srv->refused_held);
	srv->refused_log_ms = now;
	srv->refused_held = 0;
}

static void accept_one(struct server *srv, int fd, const struct sockaddr_storage *peer)
{
	const char *refused = limits_admit(srv->limits, &srv->w, peer);

	if (refused != NULL) {
		log_refused(srv, peer, refused);
		close(fd);
		return;
	}
	struct session *s = session_new(&srv->set, &srv->w, fd, peer, &server_session_hooks, srv);
	if (s == NULL) {
		limits_closed(srv->limits, peer, false);
		return;
	}
	session_opened(srv, s);
}

static void accept_retry(struct loop *l, void *ctx)
{
	struct server *srv = ctx;

	if (!srv->w.draining)
		loop_io_set(l, &srv->listen_io, LOOP_READ);
}

static void on_accept(struct loop *l, struct loop_io *io, unsigned events)
{
	struct server *srv = io->ctx;

	(void)events;
	for (int i = 0; i < SERVER_ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			accept_one(srv, fd, &peer);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Out of descriptors: pause accepting instead of spinning on the error,
			 * and say so once a minute, not ten times a second. */
			uint64_t now = loop_now_ms(l);
			if (srv->accept_warned_ms == 0 || now - srv->accept_warned_ms >= 60000) {
				log_warn("accept paused: %s (max_fds reached)", strerror(errno));
				srv->accept_warned_ms = now;
			}
			loop_io_set(l, io, 0);
			loop_timer_start(l, &srv->accept_retry, 100, accept_retry, srv);
		}
		break;
	}
}

static void shutdown_all(struct server *srv)
{
	for (struct session *s = srv->sessions, *next; s; s = next) {
		next = s->next;
		session_shutdown(s);
	}
}

static void drain_expired(struct loop *l, void *ctx)
{
	(void)l;
	shutdown_all(ctx);
}

/* SIGTERM/SIGINT: stop accepting, let open tunnels run for --drain-timeout, then disconnect
 * everyone. Idle sessions are disconnected at once. A second signal cuts the wait short. */
static void start_drain(struct server *srv)
{
	if (srv->w.draining) {
		shutdown_all(srv);
		return;
	}
	srv->w.draining = true;
	log_info("shutting down sessions=%zu drain_timeout=%us", srv->n_sessions,
		 srv->cfg->drain_timeout_s);
	loop_io_stop(srv->w.loop, &srv->listen_io);
	close(srv->listen_fd);
	srv->listen_fd = -1;
	loop_timer_stop(srv->w.loop, &srv->accept_retry);
	if (srv->n_sessions == 0) {
		loop_stop(srv->w.loop);
		return;
	}
	for (struct session *s = srv->sessions, *next; s; s = next) {
		next = s->next;
		if (s->chans.list == NULL)
			session_shutdown(s);
	}
	if (srv->n_sessions > 0)
		loop_timer_start(srv->w.loop, &srv->drain_timer,
				 (uint64_t)srv->cfg->drain_timeout_s * 1000, drain_expired, srv);
}

static void on_signal(struct loop *l, struct loop_io *io, unsigned events)
{
	struct server *srv = io->ctx;
	struct signalfd_siginfo si;

	(void)l;
	(void)events;
	while (read(srv->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("signal received signal=%s",
			 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		start_drain(srv);
	}
}

static int setup_signals(struct server *srv)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	srv->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (srv->signal_fd == -1)
		return -1;
	return loop_io_start(srv->w.loop, &srv->signal_io, srv->signal_fd, LOOP_READ, on_signal,
			     srv);
}

/* Like OpenSSH, refuse a host key others can read. */
static int load_host_key(struct server *srv, const char *path)
{
	struct stat st;
	char err[256];

	if (stat(path, &st) == -1) {
		fprintf(stderr, "alknet: cannot read host key %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		fprintf(stderr,
			"alknet: host key %s is accessible by others (mode %04o); "
			"run: chmod 600 %s\n",
			path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (ssh_key_load_private(path, &srv->host_key, err, sizeof(err)) != 0) {
		fprintf(stderr, "alknet: host key %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

static int load_authorized_keys(struct server *srv, const char *path)
{
	int ret = authkeys_load(path, &srv->authkeys);

	if (ret != 0) {
		fprintf(stderr, "alknet: cannot read authorized keys %s: %s\n", path,
			strerror(-ret));
		return -1;
	}
	if (authkeys_count(srv->authkeys) == 0)
		log_warn("no usable keys in %s: nobody can log in", path);
	return 0;
}

static int open_listener(struct server *srv)
{
	const struct config *cfg = srv->cfg;

	srv->listen_fd = net_listen(&cfg->listen_addr, cfg->listen_len, 1024);
	if (srv->listen_fd < 0) {
		fprintf(stderr, "alknet: cannot listen on %s: %s\n", cfg->listen_str,
			strerror(-srv->listen_fd));
		return -1;
	}
	return loop_io_start(srv->w.loop, &srv->listen_io, srv->listen_fd, LOOP_READ, on_accept,
			     srv);
}

/* Descriptors open now (listener, epoll, signalfd, resolver, stdio), counted once at start. */
static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (d == NULL)
		return 16;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n > 3 ? n - 3 : n; /* ".", ".." and the directory's own fd */
}

/* The worker's descriptor budget (worker.h): channels leave fd_reserve free for new clients,
 * enough for every unauthenticated connection --max-startups allows and a margin. */
static void init_fd_budget(struct server *srv, long nofile)
{
	struct worker *w = &srv->w;

	w->fd_limit = nofile > 0 && nofile < UINT32_MAX ? (unsigned)nofile : 0;
	w->fds_used = open_fds();
	w->fd_reserve = srv->cfg->startups_full + 32;
	if (w->fd_limit > 0 && w->fd_reserve > w->fd_limit / 4)
		w->fd_reserve = w->fd_limit / 4;
}

/* The read-only part every session sees (settings.h). */
static void init_settings(struct server *srv)
{
	struct settings *set = &srv->set;

	set->cfg = srv->cfg;
	set->host_key = srv->host_key;
	set->authkeys = srv->authkeys;
	set->proxy = srv->cfg->proxy;
	set->ssh.host_keys = &srv->host_key;
	set->ssh.n_host_keys = 1;
	set->ssh.max_channels = srv->cfg->max_channels;
	set->ssh.window = srv->cfg->window_size;
	/* The engine's default, spelled out: the session bounds its output by out_limit. */
	set->ssh.out_limit = 1024 * 1024;
	set->stall_ms = 30000;
	/* Tests shorten the wait for a client that doesn't read. */
	const char *stall = getenv("ALKNET_TEST_STALL_MS");
	if (stall)
		set->stall_ms = (unsigned)strtoul(stall, NULL, 10);
	/* Tests shrink the re-key volume to force re-keys mid-transfer. */
	const char *rekey = getenv("ALKNET_TEST_REKEY_BYTES");
	if (rekey)
		set->ssh.rekey_bytes = strtoull(rekey, NULL, 10);
}

int server_init(struct server *srv, const struct config *cfg)
{
	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	srv->listen_fd = -1;
	srv->signal_fd = -1;
	log_set_level(cfg->log_level);
	loop_timer_init(&srv->drain_timer);
	loop_timer_init(&srv->accept_retry);
	if (load_host_key(srv, cfg->key_path) != 0 ||
	    load_authorized_keys(srv, cfg->authorized_keys_path) != 0)
		return -1;
	init_settings(srv);
	srv->limits = limits_new(cfg);
	if (worker_init(&srv->w, &srv->set, SERVER_RESOLVER_THREADS) != 0 ||
	    setup_signals(srv) != 0) {
		fprintf(stderr, "alknet: cannot set up the event loop: %s\n", strerror(errno));
		return -1;
	}
	if (open_listener(srv) != 0)
		return -1;
	long nofile = net_raise_nofile();
	init_fd_budget(srv, nofile);
	char fp[SSH_KEY_FP_LEN];
	ssh_key_fingerprint(srv->host_key, fp);
	char proxy[300] = "none";
	if (srv->set.proxy)
		proxy_url_describe(srv->set.proxy, proxy, sizeof(proxy));
	log_info("listening addr=%s host_key=%s fingerprint=%s authorized_keys=%zu max_fds=%ld "
		 "proxy=%s",
		 cfg->listen_str, ssh_key_type_name(srv->host_key), fp,
		 authkeys_count(srv->authkeys), nofile, proxy);
	return 0;
}

int server_run(struct server *srv)
{
	int ret = loop_run(srv->w.loop);

	if (ret != 0) {
		log_error("event loop failed: %s", strerror(-ret));
		return 1;
	}
	log_info("stopped");
	return 0;
}

void server_free(struct server *srv)
{
	while (srv->sessions)
		session_close(srv->sessions, "server exit");
	if (srv->w.loop) {
		loop_timer_stop(srv->w.loop, &srv->drain_timer);
		loop_timer_stop(srv->w.loop, &srv->accept_retry);
	}
	worker_free(&srv->w); /* runs the pending frees */
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->signal_fd >= 0)
		close(srv->signal_fd);
	limits_free(srv->limits);
	authkeys_free(srv->authkeys);
	ssh_key_free(srv->host_key);
}
