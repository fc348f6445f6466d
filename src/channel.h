/* A direct-tcpip channel: policy check, outbound connect, then the relay (relay.c) until both
 * directions are done. The session owns its channels; a channel owns its target socket, its
 * buffer toward the target and its connect in progress. */
#ifndef ALKNET_CHANNEL_H
#define ALKNET_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "ssh/buf.h"

struct session;
struct ssh_channel;
struct ssh_event;
struct outbound;

struct channel {
	struct session *sess;
	struct channel *prev, *next;
	struct ssh_channel *sch;   /* the engine's channel */
	struct outbound *dial;     /* while connecting */
	int fd;                    /* target socket, -1 before connect / after close */
	struct loop_io io;
	struct sbuf tbuf;          /* client data the target has not taken yet (<= our window) */
	struct sbuf early;         /* target data that came with a proxy reply, for the client */
	size_t toff;
	bool client_eof;           /* EOF from the client: shut the target's write side */
	bool target_eof;           /* EOF from the target: sent CHANNEL_EOF */
	bool shut_wr;              /* the target's write side is done (shut down, or failed) */
	bool write_failed;         /* a write to the target failed: client data is dropped */
	bool closing;              /* we sent CHANNEL_CLOSE */
	struct loop_timer linger;  /* after the client's CLOSE: time left to hand over tbuf */
	bool dirty;                /* on the session's list of targets to write to */
	bool batched;              /* has spans in the server's relay batch (this pass) */
	struct channel *dirty_next;
	bool parked;               /* not polled: new, or hung up while the window was shut */
};

/* Handles SSH_EV_CHANNEL_OPEN: refuses it, or starts the connect and confirms it later. */
void channel_open(struct session *s, const struct ssh_event *ev);
void channel_on_eof(struct channel *c);
/* The engine's channel is gone (both CLOSEs). Client data already received still goes to
 * the target (within CHANNEL_LINGER_MS), then c is freed. */
void channel_on_close(struct channel *c);
/* Ends the channel from our side (target error, both directions done): sends CLOSE. */
void channel_finish(struct channel *c);
/* Session teardown: frees c without any SSH traffic. */
void channel_free(struct channel *c);

#endif
