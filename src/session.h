/* One client connection: feeds the transport's bytes to the SSH engine, writes its output,
 * decides logins and hands channel events to channel.c.
 *
 * Ownership: whoever accepts (server.c) creates the session and keeps it on its list; the
 * session owns its transport, its engine and its channels. It frees itself after the loop
 * step in which it closed, and tells its creator through its hooks first. */
#ifndef ALKNET_SESSION_H
#define ALKNET_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "channel.h"
#include "loop.h"
#include "policy.h"

struct settings;
struct ssh;
struct transport;
struct worker;
struct session;

/* What a session tells its creator: the login succeeded; the session is closing (the last
 * call that reaches the creator). */
struct session_hooks {
	void (*logged_in)(void *owner, struct session *s);
	void (*closed)(void *owner, struct session *s);
};

struct session {
	const struct settings *set; /* a reference to the snapshot current at the accept */
	struct worker *w;
	const struct session_hooks *hooks;
	void *owner;
	struct session *prev, *next; /* the creator's list */
	struct transport *tr;
	struct ssh *ssh;
	struct channel_set chans;
	struct loop_timer grace_timer;
	struct loop_timer close_timer;
	struct loop_timer rekey_timer;
	struct loop_timer stall_timer; /* output over its bound: the client must read */
	struct loop_timer alive_timer; /* --client-alive-interval, after login */
	struct sockaddr_storage peer;
	char addr[64];
	/* From the login on: the snapshot whose authorized_keys line granted it (a reference:
	 * subject.permits points into it), and who logged in (chans.subject). */
	const struct settings *auth_set;
	struct policy_subject subject;
	char key_fp[64];
	char **principals; /* a certificate's, NULL-terminated (owned); NULL for a plain key */
	uint64_t id;
	uint64_t start_ms;
	uint64_t last_rx_ms;   /* when bytes last came from the client */
	unsigned alive_probes; /* keepalives sent since then */
	unsigned auth_failures;
	bool out_blocked;  /* output was full: channels wait for it to drain */
	bool closing;	   /* flushing the last bytes before closing */
	bool flush_queued; /* a write is scheduled for the end of this loop pass */
	bool logged_in;
	bool grace_expired; /* closed because the login grace time ran out */
	bool freed;
};

/* Takes ownership of tr (the accepted connection's transport, made by the accept path: TCP,
 * TLS over it, ...; its callback is pointed at the session here) and starts the SSH
 * handshake. peer is the client's address for limits and logs. */
struct session *session_new(const struct settings *set, struct worker *w, struct transport *tr,
			    const struct sockaddr_storage *peer, const struct session_hooks *hooks,
			    void *owner);
/* Server shutdown: sends DISCONNECT, flushes briefly, closes. */
void session_shutdown(struct session *s);
/* Closes the connection at once (error paths); frees after the current loop step. */
void session_close(struct session *s, const char *why);

#endif
