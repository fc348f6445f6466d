/* The one server object: listening sockets, sessions, per-address counts, reload, shutdown. */
#ifndef ALKNET_SERVER_H
#define ALKNET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "proxied.h"
#include "settings.h"
#include "worker.h"

struct session;
struct limits;
struct server;

struct listener {
	struct server *srv;
	int fd;
	struct loop_io io;
	char name[64]; /* ADDR:PORT, for log lines */
};

/* The server owns the current settings snapshot (one reference: settings.h), the host key
 * every snapshot borrows, the one worker (per-loop state: worker.h), the listeners, the
 * sessions and the per-address counts. argv is kept to parse again on SIGHUP. */
struct server {
	const struct settings *set;
	struct worker w;
	struct ssh_key *host_key; /* owned */
	int argc;
	char **argv;
	struct listener listeners[CONFIG_MAX_LISTEN];
	unsigned n_listeners;
	bool socket_activated; /* the listeners came from systemd */
	int landlock_abi;      /* in force; 0: none */
	int signal_fd;
	struct loop_io signal_io;
	struct loop_timer drain_timer;
	struct loop_timer accept_retry;
	struct session *sessions; /* doubly linked through session->next/prev */
	size_t n_sessions;
	struct limits *limits;
	struct proxied_set proxied; /* --proxy-protocol: connections waiting for the header */
	uint64_t refused_log_ms;
	unsigned refused_held;
	uint64_t accept_warned_ms;
};

/* Loads keys, binds (or takes systemd's sockets), installs signal handling. Takes cfg over
 * (heap-allocated, from config_parse of argv). Prints a message and returns -1 on failure. */
int server_init(struct server *srv, struct config *cfg, int argc, char **argv);
/* Runs until shutdown completes. Returns the exit status. */
int server_run(struct server *srv);
void server_free(struct server *srv);
/* `alknet serve --check`: loads everything cfg names (taken over) as server_init would,
 * without listening. Returns the number of problems (printed to d). */
unsigned server_check(struct config *cfg, struct diag *d);

#endif
