/* Admission of new connections, before any SSH byte: connections per client address
 * (--max-connections-per-ip), unauthenticated connections in all (--max-startups, OpenSSH's
 * start:rate:full random early drop) and per source block (--per-source-max-startups; IPv4
 * per address, IPv6 per /64), and a floor of free descriptors. Per loop: owned by the server
 * for its one worker. */
#ifndef ALKNET_LIMITS_H
#define ALKNET_LIMITS_H

#include <stdbool.h>
#include <sys/socket.h>

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
/* The connection logged in: it no longer counts as unauthenticated. */
void limits_logged_in(struct limits *lim, const struct sockaddr_storage *peer);
void limits_closed(struct limits *lim, const struct sockaddr_storage *peer, bool logged_in);

#endif
