/* Per-loop state: everything one event loop owns and only its thread touches. Today there is
 * one worker; a loop per core later means one of these per thread, each with its own loop,
 * resolver, relay batch, counters and engine settings (whose libcrypto caches are per loop),
 * all reading the same read-only struct settings. */
#ifndef ALKNET_WORKER_H
#define ALKNET_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/outbound.h"
#include "relay.h"
#include "ssh/ssh.h"

struct hub;
struct loop;
struct resolver;
struct settings;

struct ssh_cert;

/* What a reload re-checks of a certificate login: its key, CA, serial and key ID. */
struct worker_cert {
	char key_fp[64];
	char ca_fp[64];
	uint64_t serial;
	char *key_id; /* owned */
};

/* Channels per authorized key, over all its sessions on this loop (--max-channels-per-user).
 * A certificate counts as a user of its own: its entry is named by the certificate's
 * fingerprint (ssh_cert_fingerprint) and carries what a reload re-checks. */
struct worker_user {
	struct worker_user *next;
	char fp[64];		  /* the key's SHA256 fingerprint, or the certificate's */
	struct worker_cert *cert; /* owned; NULL for a plain key */
	unsigned sessions;
	unsigned channels;
	/* no longer in the authorized set since a reload, or revoked (--revoked-keys), or its
	 * certificate's CA no longer trusted: no new channels */
	bool revoked;
};

/* File descriptors: sessions and channel sockets are counted against the process limit, and
 * channels stop at fd_limit - fd_reserve, so that accepting and authenticating new clients
 * always has descriptors left (plus the unauthenticated connections' own caps, server.c). */
struct worker {
	const struct settings *set; /* the current snapshot (the server holds its reference) */
	struct loop *loop;
	struct resolver *resolver;
	struct relay_batch batch;     /* client data of the session being processed (relay.h) */
	struct outbound_env outbound; /* this loop's outbound connections (proxy/outbound.h) */
	struct ssh_config ssh;	      /* the settings' engine config, with this loop's caches */
	struct ssh_crypto *crypto; /* this loop's libcrypto cache (ssh.h); ssh.crypto points here */
	uint64_t next_session_id;
	bool draining;		    /* shutting down: no new channels */
	unsigned fd_limit;	    /* RLIMIT_NOFILE */
	unsigned fd_reserve;	    /* kept for new clients: channels may not use these */
	unsigned fds_used;	    /* estimate: those open at start + sessions + channel sockets */
	struct worker_user **users; /* hash table, WORKER_USER_BUCKETS */
	struct hub *hub;	    /* this loop's event hub (hub.h): alknet-control:0 */
};

/* The key's entry (made on first use), one more session counted on it. */
struct worker_user *worker_user_get(struct worker *w, const char *fp);
/* The same for a certificate login (the entry named by the certificate's fingerprint). */
struct worker_user *worker_user_get_cert(struct worker *w, const struct ssh_cert *c);
/* One session fewer; the entry goes with the last. */
void worker_user_put(struct worker *w, struct worker_user *u);

/* Makes the loop and the resolver threads. Returns 0, or -1 (errno set). */
int worker_init(struct worker *w, const struct settings *set, unsigned resolver_threads);
/* A reload: set becomes current (the engine settings of new sessions come from it), and every
 * key it no longer authorizes (not in the authorized set, revoked, a certificate whose CA is
 * no longer trusted or that is revoked) is marked revoked. */
void worker_use_settings(struct worker *w, const struct settings *set);
/* Frees what worker_init made; runs the loop's pending defers first. */
void worker_free(struct worker *w);

#endif
