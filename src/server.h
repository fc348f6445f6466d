/* The one server object: listening socket, sessions, per-address counts, shutdown. */
#ifndef ALKNET_SERVER_H
#define ALKNET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "settings.h"
#include "worker.h"

struct session;
struct authkeys;
struct limits;

/* The server owns the settings (read-only once the loop runs: settings.h), the one worker
 * (per-loop state: worker.h), the listener, the sessions and the per-address counts. */
struct server {
	const struct config *cfg;
	struct settings set;
	struct worker w;
	struct ssh_key *host_key;  /* owned; set.host_key borrows it */
	struct authkeys *authkeys; /* owned; set.authkeys borrows it */
	int listen_fd;
	struct loop_io listen_io;
	int signal_fd;
	struct loop_io signal_io;
	struct loop_timer drain_timer;
	struct loop_timer accept_retry;
	struct session *sessions; /* doubly linked through session->next/prev */
	size_t n_sessions;
	struct limits *limits;
	uint64_t refused_log_ms;
	unsigned refused_held;
	uint64_t accept_warned_ms;
};

/* Loads keys, binds, installs signal handling. Prints a message and returns -1 on failure. */
int server_init(struct server *srv, const struct config *cfg);
/* Runs until shutdown completes. Returns the exit status. */
int server_run(struct server *srv);
void server_free(struct server *srv);

#endif
