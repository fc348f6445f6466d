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

struct loop;
struct resolver;
struct settings;

struct worker {
	struct loop *loop;
	struct resolver *resolver;
	struct relay_batch batch;     /* client data of the session being processed (relay.h) */
	struct outbound_env outbound; /* this loop's outbound connections (proxy/outbound.h) */
	struct ssh_config ssh;	      /* the settings' engine config, with this loop's caches */
	struct ssh_crypto *crypto; /* this loop's libcrypto cache (ssh.h); ssh.crypto points here */
	uint64_t next_session_id;
	bool draining; /* shutting down: no new channels */
};

/* Makes the loop and the resolver threads. Returns 0, or -1 (errno set). */
int worker_init(struct worker *w, const struct settings *set, unsigned resolver_threads);
/* Frees what worker_init made; runs the loop's pending defers first. */
void worker_free(struct worker *w);

#endif
