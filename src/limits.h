/* Admission of new connections, before any SSH byte: connections per client address
 * (--max-connections-per-ip), unauthenticated connections in all (--max-startups, OpenSSH's
 * start:rate:full random early drop) and per source block (--per-source-max-startups),
 * sources serving a penalty (--per-source-penalty, penalty.h), and a floor of free
 * descriptors. A source block is an address cut to --per-source-prefix (default IPv4 /32,
 * IPv6 /64). Per loop: owned by the server for its one worker, with its penalty table. */
#ifndef ALKNET_LIMITS_H
#define ALKNET_LIMITS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "penalty.h"

struct config;
struct limits;
struct worker;

struct limits *limits_new(const struct config *cfg);
/* A reload: the limits of cfg apply from now on (the counts stay). cfg must outlive its use. */
void limits_configure(struct limits *lim, const struct config *cfg);
void limits_free(struct limits *lim);
/* May a connection from peer start now? Returns NULL and counts it (limits_closed must follow
 * once), or the refusal reason for the log line ("max-startups", ...). */
const char *limits_admit(struct limits *lim, const struct worker *w,
			 const struct sockaddr_storage *peer);
/* A connection from a PROXY-protocol sender (--proxy-protocol) before its header: the client
 * is not known yet, so only what does not depend on its address applies (the descriptor
 * floor, --max-startups); the sender's own address is not counted. Returns NULL and counts it
 * as unauthenticated (limits_pending_done must follow once, before limits_admit with the
 * client's address), or the refusal reason. */
const char *limits_admit_pending(struct limits *lim, const struct worker *w);
void limits_pending_done(struct limits *lim);
/* The connection logged in: it no longer counts as unauthenticated. */
void limits_logged_in(struct limits *lim, const struct sockaddr_storage *peer);
void limits_closed(struct limits *lim, const struct sockaddr_storage *peer, bool logged_in);
/* A connection from peer ended in a way that earns its source block a penalty (never
 * logged in: failed auth, no auth attempt, grace time exceeded). Nothing for sources in
 * --per-source-penalty-exempt, for the load balancers of --proxy-protocol-from, or with
 * penalties off. Returns true if a penalty was added. */
bool limits_penalise(struct limits *lim, const struct worker *w,
		     const struct sockaddr_storage *peer, enum penalty_kind kind);

#endif
