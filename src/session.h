/* One client connection: socket I/O for the SSH engine, auth decisions, limits and the
 * session's channels. */
#ifndef ALKNET_SESSION_H
#define ALKNET_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

struct server;
struct ssh;
struct channel;

struct session {
	struct server *srv;
	struct session *prev, *next; /* server's list */
	struct channel *channels;    /* doubly linked through channel->next/prev */
	struct ssh *ssh;
	int fd;
	struct loop_io io;
	struct loop_timer grace_timer;
	struct loop_timer close_timer;
	struct loop_timer rekey_timer;
	struct sockaddr_storage peer;
	char addr[64];
	uint64_t id;
	uint64_t start_ms;
	unsigned auth_failures;
	bool out_blocked;  /* channels stopped reading because output was full */
	bool closing;      /* flushing the last bytes before closing */
	bool flush_queued; /* a write is scheduled for the end of this loop pass */
	struct channel *dirty; /* channels with client data to send after this pass */
	bool freed;
};

/* Takes ownership of fd (accepted, non-blocking). */
struct session *session_new(struct server *srv, int fd, const struct sockaddr_storage *peer);
/* Server shutdown: sends DISCONNECT, flushes briefly, closes. */
void session_shutdown(struct session *s);
/* Writes pending SSH output now; re-arms polling. Call after producing output. */
void session_flush(struct session *s);
/* Closes the connection at once (error paths); frees after the current loop step. */
void session_close(struct session *s, const char *why);
int session_channel_count(const struct session *s);

#endif
