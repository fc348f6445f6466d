/* The one server object: listening socket, sessions, per-address counts, shutdown. */
#ifndef ALKNET_SERVER_H
#define ALKNET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "relay.h"
#include "ssh/ssh.h"

struct session;
struct authkeys;
struct resolver;
struct ip_count;
struct proxy_url;

struct server {
	const struct config *cfg;
	struct loop *loop;
	struct resolver *resolver;
	struct ssh_key *host_key;
	struct authkeys *authkeys;
	struct proxy_url *proxy;  /* NULL: connect directly */
	struct ssh_config ssh_cfg;
	struct ssh_crypto *crypto; /* libcrypto cache for this loop's sessions (ssh.h) */
	int listen_fd;
	struct loop_io listen_io;
	int signal_fd;
	struct loop_io signal_io;
	struct loop_timer drain_timer;
	struct loop_timer accept_retry;
	struct session *sessions; /* doubly linked through session->next/prev */
	size_t n_sessions;
	struct ip_count **ip_buckets;
	uint64_t next_session_id;
	uint64_t accept_warned_ms;
	bool draining;
	struct relay_batch batch; /* client data of the session being processed (relay.h) */
};

/* Loads keys, binds, installs signal handling. Prints a message and returns -1 on failure. */
int server_init(struct server *srv, const struct config *cfg);
/* Runs until shutdown completes. Returns the exit status. */
int server_run(struct server *srv);
void server_free(struct server *srv);

/* session.c tells the server when a session is gone (per-address count, list, drain). */
void server_session_opened(struct server *srv, struct session *s);
void server_session_closed(struct server *srv, struct session *s);

#endif
