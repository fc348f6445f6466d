/* The server: loads keys, listens, accepts, counts connections per address, reloads on SIGHUP
 * and shuts down gracefully on SIGTERM/SIGINT. */
#include "server.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
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
#include "diag.h"
#include "limits.h"
#include "log.h"
#include "net.h"
#include "proxied.h"
#include "proxy/proxy_url.h"
#include "sandbox.h"
#include "session.h"
#include "ssh/key.h"
#include "systemd.h"
#include "transport/stealth.h"
#include "transport/tcp.h"
#include "transport/tls.h"
#include "transport/transport.h"
#include "xmalloc.h"

#define SERVER_ACCEPTS_PER_WAKEUP 64
#define SERVER_REFUSE_LOG_MS	  10000
#define SERVER_RESOLVER_THREADS	  4
#define SERVER_FD_SCAN		  1024
/* authorized keys, config, proxy, TLS cert and key, policy, CA keys, revoked keys */
#define SERVER_RELOAD_FILES 8

static void server_reload(struct server *srv);

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

/* TLS over the connection's transport (TCP, or TCP behind a PROXY header), and with --stealth
 * the first-byte check under TLS (plain HTTP) and the banner check above it; as configured. */
static struct transport *layer_transport(struct server *srv, struct transport *tr,
					 const struct sockaddr_storage *peer)
{
	char addr[64];
	struct transport *under = NULL;

	if (!srv->set->cfg->tls)
		return tr;
	net_addr_str(peer, addr, sizeof(addr));
	if (srv->set->cfg->stealth) /* plain HTTP on the TLS port is answered under TLS */
		tr = under = transport_stealth_plain_new(srv->w.loop, tr, addr);
	tr = transport_tls_new(srv->w.loop, tr, srv->set->tls, addr);
	if (srv->set->cfg->stealth)
		tr = transport_stealth_new(srv->w.loop, tr, addr, under);
	return tr;
}

/* The connection's byte stream. NULL when the loop refused the socket (fd closed). */
static struct transport *open_transport(struct server *srv, int fd,
					const struct sockaddr_storage *peer)
{
	struct transport *tr = transport_tcp_new(srv->w.loop, fd, NULL, NULL);

	return tr ? layer_transport(srv, tr, peer) : NULL;
}

/* --proxy-protocol: the header is in and names the client; admitted now by its address. */
static void proxied_ready(void *owner, struct transport *t, const struct sockaddr_storage *client)
{
	struct server *srv = owner;
	const char *refused = limits_admit(srv->limits, &srv->w, client);

	if (refused != NULL) {
		log_refused(srv, client, refused);
		transport_close(t);
		return;
	}
	t = layer_transport(srv, t, client);
	session_opened(srv, session_new(srv->set, &srv->w, t, client, &server_session_hooks, srv));
}

static void proxied_refused(void *owner, const struct sockaddr_storage *from, const char *reason)
{
	log_refused(owner, from, reason);
}

static const struct proxied_hooks server_proxied_hooks = {
	.ready = proxied_ready,
	.refused = proxied_refused,
};

static void accept_one(struct server *srv, int fd, const struct sockaddr_storage *peer)
{
	if (srv->set->cfg->proxy_protocol != 0) {
		proxied_accept(&srv->proxied, srv->set->cfg, fd, peer);
		return;
	}
	const char *refused = limits_admit(srv->limits, &srv->w, peer);

	if (refused != NULL) {
		log_refused(srv, peer, refused);
		close(fd);
		return;
	}
	struct transport *tr = open_transport(srv, fd, peer);
	if (tr == NULL) {
		limits_closed(srv->limits, peer, false);
		return;
	}
	session_opened(srv, session_new(srv->set, &srv->w, tr, peer, &server_session_hooks, srv));
}

static void listeners_want(struct server *srv, unsigned events)
{
	for (unsigned i = 0; i < srv->n_listeners; i++)
		loop_io_set(srv->w.loop, &srv->listeners[i].io, events);
}

static void accept_retry(struct loop *l, void *ctx)
{
	struct server *srv = ctx;

	(void)l;
	if (!srv->w.draining)
		listeners_want(srv, LOOP_READ);
}

static void on_accept(struct loop *l, struct loop_io *io, unsigned events)
{
	struct listener *lst = io->ctx;
	struct server *srv = lst->srv;

	(void)events;
	for (int i = 0; i < SERVER_ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(lst->fd, (struct sockaddr *)&peer, &len,
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
			listeners_want(srv, 0);
			loop_timer_start(l, &srv->accept_retry, 100, accept_retry, srv);
		}
		break;
	}
}

static void close_listeners(struct server *srv)
{
	for (unsigned i = 0; i < srv->n_listeners; i++) {
		struct listener *lst = &srv->listeners[i];
		if (lst->fd < 0)
			continue;
		loop_io_stop(srv->w.loop, &lst->io);
		close(lst->fd);
		lst->fd = -1;
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
	systemd_stopping();
	log_info("shutting down sessions=%zu drain_timeout=%us", srv->n_sessions,
		 srv->set->cfg->drain_timeout_s);
	close_listeners(srv);
	proxied_close_all(&srv->proxied);
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
				 (uint64_t)srv->set->cfg->drain_timeout_s * 1000, drain_expired,
				 srv);
}

static void on_signal(struct loop *l, struct loop_io *io, unsigned events)
{
	struct server *srv = io->ctx;
	struct signalfd_siginfo si;

	(void)l;
	(void)events;
	while (read(srv->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		const char *name = si.ssi_signo == SIGTERM  ? "SIGTERM"
				   : si.ssi_signo == SIGHUP ? "SIGHUP"
							    : "SIGINT";
		log_info("signal received signal=%s", name);
		if (si.ssi_signo == SIGHUP)
			server_reload(srv);
		else
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
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	srv->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (srv->signal_fd == -1)
		return -1;
	return loop_io_start(srv->w.loop, &srv->signal_io, srv->signal_fd, LOOP_READ, on_signal,
			     srv);
}

static int add_listener(struct server *srv, int fd, const char *name)
{
	struct listener *lst = &srv->listeners[srv->n_listeners++];

	lst->srv = srv;
	lst->fd = fd;
	snprintf(lst->name, sizeof(lst->name), "%s", name);
	return 0;
}

/* The bound sockets join the loop (which exists only after the privilege drop). */
static int start_listeners(struct server *srv)
{
	for (unsigned i = 0; i < srv->n_listeners; i++) {
		struct listener *lst = &srv->listeners[i];
		if (loop_io_start(srv->w.loop, &lst->io, lst->fd, LOOP_READ, on_accept, lst) != 0)
			return -1;
	}
	return 0;
}

/* The sockets systemd passed (socket activation), named by their local address. */
static int take_systemd_sockets(struct server *srv, const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char name[64] = "systemd", addr[64];
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) == 0 &&
		    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
			net_addr_str(&ss, addr, sizeof(addr));
			unsigned port = ntohs(ss.ss_family == AF_INET
						      ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
			snprintf(name, sizeof(name), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
				 addr, port);
		}
		if (add_listener(srv, fds[i], name) != 0)
			return -1;
	}
	srv->socket_activated = true;
	return 0;
}

/* systemd's sockets if it passed any, else every --listen address (bound now, while the
 * process may still bind privileged ports). */
static int bind_listeners(struct server *srv)
{
	const struct config *cfg = srv->set->cfg;
	int fds[CONFIG_MAX_LISTEN];
	int n = systemd_listen_fds(fds, CONFIG_MAX_LISTEN);

	if (n < 0)
		return -1;
	if (n > 0)
		return take_systemd_sockets(srv, fds, n);
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		const struct config_listen *l = &cfg->listen[i];
		int fd = net_listen(&l->addr, l->len, 1024);
		if (fd < 0) {
			fprintf(stderr, "alknet: cannot listen on %s: %s\n", l->str, strerror(-fd));
			return -1;
		}
		if (add_listener(srv, fd, l->str) != 0)
			return -1;
	}
	return 0;
}

static void listeners_str(const struct server *srv, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < srv->n_listeners && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "," : "",
				      srv->listeners[i].name);
}
/* Descriptors open now (listener, epoll, signalfd, resolver, stdio), counted once at start. */
static unsigned open_fds(void)
{
	unsigned n = 0;

	/* /proc/self/fd is out of reach once sandboxed; start-up descriptors are all low. */
	for (int fd = 0; fd < SERVER_FD_SCAN; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static void set_fd_reserve(struct server *srv)
{
	struct worker *w = &srv->w;

	w->fd_reserve = srv->set->cfg->startups_full + 32;
	if (w->fd_limit > 0 && w->fd_reserve > w->fd_limit / 4)
		w->fd_reserve = w->fd_limit / 4;
}

/* The worker's descriptor budget (worker.h): channels leave fd_reserve free for new clients,
 * enough for every unauthenticated connection --max-startups allows and a margin. */
static void init_fd_budget(struct server *srv, long nofile)
{
	struct worker *w = &srv->w;

	w->fd_limit = nofile > 0 && nofile < UINT32_MAX ? (unsigned)nofile : 0;
	w->fds_used = open_fds();
	set_fd_reserve(srv);
}

/* Makes set the current snapshot (the server's reference moves to it): new sessions and new
 * channels use it, and sessions whose key it no longer holds can open no more channels. */
static void use_settings(struct server *srv, const struct settings *set)
{
	const struct settings *old = srv->set;

	srv->set = set;
	log_set_level(set->cfg->log_level);
	worker_use_settings(&srv->w, set);
	limits_configure(srv->limits, set->cfg);
	set_fd_reserve(srv);
	settings_unref(old);
}

/* What a reload cannot change without dropping connections: said once, the old one kept. */
static void warn_fixed(const struct server *srv, const struct config *cfg)
{
	const struct config *cur = srv->set->cfg;
	char a[1024], b[1024];

	config_listen_str(cur, a, sizeof(a));
	config_listen_str(cfg, b, sizeof(b));
	if (!srv->socket_activated && strcmp(a, b) != 0)
		log_warn("reload: listen addresses changed; restart alknet to use them");
	if (strcmp(cur->key_path, cfg->key_path) != 0)
		log_warn("reload: the host key path changed; restart alknet to use it");
}

/* SIGHUP: the command line and the config file are parsed again and every file they name read
 * again; only if all of it loads does the new state replace the old. */
static void server_reload(struct server *srv)
{
	struct diag d;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	const struct settings *set = NULL;

	diag_init(&d, DIAG_QUIET);
	systemd_reloading();
	if (config_parse(srv->argc, srv->argv, cfg, &d) == CONFIG_RUN) {
		set = settings_load(cfg, srv->host_key, &d);
	} else {
		config_free(cfg);
		free(cfg);
	}
	if (set == NULL) {
		log_warn("reload failed: %s; keeping the previous configuration", d.first);
		systemd_ready("reload failed; previous configuration kept");
		return;
	}
	warn_fixed(srv, set->cfg);
	use_settings(srv, set);
	char proxy[300] = "none";
	if (set->proxy)
		proxy_url_describe(set->proxy, proxy, sizeof(proxy));
	log_info("reload ok authorized_keys=%zu config=%s proxy=%s sessions=%zu",
		 authkeys_count(set->authkeys),
		 set->cfg->config_path ? set->cfg->config_path : "none", proxy, srv->n_sessions);
	systemd_ready("running");
}
static void log_listening(const struct server *srv, long nofile)
{
	char fp[SSH_KEY_FP_LEN], addrs[1024], proxy[300] = "none";

	ssh_key_fingerprint(srv->host_key, fp);
	listeners_str(srv, addrs, sizeof(addrs));
	if (srv->set->proxy)
		proxy_url_describe(srv->set->proxy, proxy, sizeof(proxy));
	log_info("listening addr=%s host_key=%s fingerprint=%s authorized_keys=%zu max_fds=%ld "
		 "proxy=%s",
		 addrs, ssh_key_type_name(srv->host_key), fp, authkeys_count(srv->set->authkeys),
		 nofile, proxy);
}

/* Keys and files first (each problem reported), then the loop, the signals, the sockets. */
static int load_settings(struct server *srv, struct config *cfg)
{
	struct diag d;

	diag_init(&d, DIAG_STDERR);
	if (settings_load_host_key(cfg->key_path, &srv->host_key, &d) != 0) {
		config_free(cfg);
		free(cfg);
		return -1;
	}
	srv->set = settings_load(cfg, srv->host_key, &d);
	return srv->set ? 0 : -1;
}

/* The directories of the files a reload reads: the only ones Landlock leaves readable. */
static size_t reload_dirs(const struct config *cfg, char dirs[][PATH_MAX], size_t max)
{
	const char *files[] = {cfg->authorized_keys_path,
			       cfg->config_path,
			       cfg->proxy_file,
			       cfg->tls_cert,
			       cfg->tls_key,
			       cfg->policy_path,
			       cfg->cert_authority_path,
			       cfg->revoked_keys_path};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && n < max; i++) {
		char real[PATH_MAX];
		if (files[i] == NULL || realpath(files[i], real) == NULL)
			continue;
		snprintf(dirs[n++], PATH_MAX, "%s", dirname(real));
	}
	return n;
}

/* Files a reload reads must stay readable after the switch to --user. */
static void warn_unreadable(const struct config *cfg)
{
	const char *files[] = {cfg->authorized_keys_path,
			       cfg->config_path,
			       cfg->proxy_file,
			       cfg->tls_cert,
			       cfg->tls_key,
			       cfg->policy_path,
			       cfg->cert_authority_path,
			       cfg->revoked_keys_path};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i] && access(files[i], R_OK) != 0)
			log_warn("%s is not readable by user %s: reloads will fail (%s)", files[i],
				 cfg->user ? cfg->user : "(current)", strerror(errno));
	}
}

/* Privileges, then Landlock (inherited by the threads made after it): before the loop. */
static int contain_before_loop(struct server *srv)
{
	const struct config *cfg = srv->set->cfg;
	char err[256], dirs[SERVER_RELOAD_FILES][PATH_MAX];
	const char *dirp[SERVER_RELOAD_FILES];

	if (sandbox_drop_privileges(cfg->user, err, sizeof(err)) != 0) {
		fprintf(stderr, "alknet: %s\n", err);
		return -1;
	}
	warn_unreadable(cfg);
	if (!cfg->sandbox)
		return 0;
	size_t n = reload_dirs(cfg, dirs, SERVER_RELOAD_FILES);
	for (size_t i = 0; i < n; i++)
		dirp[i] = dirs[i];
	srv->landlock_abi = sandbox_restrict_files(dirp, n);
	return 0;
}

/* The seccomp filter, on every thread, once nothing else needs setting up. */
static int contain_loop(struct server *srv)
{
	const struct config *cfg = srv->set->cfg;
	char err[256];

	if (!cfg->sandbox) {
		log_warn("sandbox off: no seccomp filter and no Landlock (--sandbox off)");
		return 0;
	}
	if (sandbox_install_filter(err, sizeof(err)) != 0) {
		fprintf(stderr, "alknet: %s\n", err);
		return -1;
	}
	char ll[32] = "unavailable";
	if (srv->landlock_abi > 0)
		snprintf(ll, sizeof(ll), "abi%d", srv->landlock_abi);
	log_info("sandbox on uid=%u seccomp=on landlock=%s", (unsigned)getuid(), ll);
	return 0;
}

int server_init(struct server *srv, struct config *cfg, int argc, char **argv)
{
	memset(srv, 0, sizeof(*srv));
	srv->argc = argc;
	srv->argv = argv;
	srv->signal_fd = -1;
	log_set_level(cfg->log_level);
	loop_timer_init(&srv->drain_timer);
	loop_timer_init(&srv->accept_retry);
	if (!sandbox_secure_heap())
		log_info("host key memory is not locked (RLIMIT_MEMLOCK too small)");
	if (load_settings(srv, cfg) != 0 || bind_listeners(srv) != 0)
		return -1;
	long nofile = net_raise_nofile();
	if (contain_before_loop(srv) != 0)
		return -1;
	srv->limits = limits_new(srv->set->cfg);
	proxied_init(&srv->proxied, &srv->w, srv->limits, &server_proxied_hooks, srv);
	if (worker_init(&srv->w, srv->set, SERVER_RESOLVER_THREADS) != 0 ||
	    setup_signals(srv) != 0 || start_listeners(srv) != 0) {
		fprintf(stderr, "alknet: cannot set up the event loop: %s\n", strerror(errno));
		return -1;
	}
	init_fd_budget(srv, nofile);
	if (contain_loop(srv) != 0)
		return -1;
	log_listening(srv, nofile);
	systemd_ready("running");
	return 0;
}

unsigned server_check(struct config *cfg, struct diag *d)
{
	struct ssh_key *key = NULL;

	if (cfg->key_path && settings_load_host_key(cfg->key_path, &key, d) != 0)
		key = NULL;
	settings_unref(settings_load(cfg, key, d));
	ssh_key_free(key);
	return d->errors;
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
	close_listeners(srv);
	if (srv->limits)
		proxied_close_all(&srv->proxied);
	worker_free(&srv->w); /* runs the pending frees */
	if (srv->signal_fd >= 0)
		close(srv->signal_fd);
	limits_free(srv->limits);
	settings_unref(srv->set);
	ssh_key_free(srv->host_key);
}
