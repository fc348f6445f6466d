/* A socket relay: bytes between a target socket and the client side of a channel, with
 * backpressure both ways. The target is read only while the client side has room (relay_ops
 * space); client data is acknowledged (relay_ops consumed) only once the socket has taken it.
 * The relay knows nothing of SSH, sessions or servers: it talks to its owner through
 * relay_ops only.
 *
 * Ownership: the owner embeds struct relay and owns it; the relay owns the target socket
 * from relay_start() until relay_release(), its two buffers and its loop registration. The
 * owner calls relay_release() exactly once before freeing the memory (which must outlive the
 * current loop step: an epoll event or a callback may still be on the stack). */
#ifndef ALKNET_RELAY_H
#define ALKNET_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "ssh/buf.h"

struct iovec;
struct relay;

/* The client side, as the owner presents it. Each callback gets the ctx given to
 * relay_init. done() may release the relay; the relay touches nothing after it. */
struct relay_ops {
	/* How many bytes may go to the client now (0: wait for relay_resume). */
	size_t (*space)(void *ctx);
	/* Zero-copy target -> client: up to max iovecs to readv() into, then how many bytes
	 * were read (0 cancels). */
	size_t (*reserve)(void *ctx, struct iovec *iov, size_t max);
	void (*commit)(void *ctx, size_t n);
	/* Copies up to n bytes toward the client; returns how many were taken. */
	size_t (*write)(void *ctx, const uint8_t *p, size_t n);
	/* The target has no more to send (EOF or a read error, after all it sent). */
	void (*eof)(void *ctx);
	/* The target took n bytes of client data (or they were dropped after a failed write):
	 * the client may send that much more. */
	void (*consumed)(void *ctx, size_t n);
	/* Both directions are over: the owner ends the channel. */
	void (*done)(void *ctx);
};

/* Client data of one loop pass, by reference into the engine's pinned input, so that it
 * reaches each target in one sendmsg without a copy. Per loop (struct worker): a pass
 * handles one session, and relay_batch_flush() ends it. */
#define RELAY_BATCH_SPANS 64
struct relay_span {
	struct relay *r; /* NULL once released or moved to the relay's buffer */
	const uint8_t *p;
	size_t len;
};
struct relay_batch {
	struct relay_span span[RELAY_BATCH_SPANS];
	int n;
	struct relay *dirty; /* relays with client data this pass, through dirty_next */
};

struct relay {
	struct loop *loop;
	const struct relay_ops *ops;
	void *ctx;
	int fd; /* the target socket; -1 before relay_start and after relay_release */
	struct loop_io io;
	struct relay_batch *batch; /* where this pass's spans are, while dirty */
	struct relay *dirty_next;
	struct sbuf tbuf; /* client data the target has not taken yet (<= the window granted) */
	size_t toff;
	struct sbuf early; /* target bytes read before the relay started, for the client first */
	bool dirty;	   /* on batch->dirty */
	bool batched;	   /* has spans in batch */
	bool client_eof;   /* the client sent EOF: shut the target's write side once drained */
	bool target_eof;   /* the target's data is over: eof() was called */
	bool shut_wr;	   /* the target's write side is done (shut down, or failed) */
	bool write_failed; /* a write to the target failed: client data is dropped */
	bool draining;	   /* the client side is gone: hand over tbuf, then done() */
	bool parked;	   /* not polled: new, or hung up while the client side had no room */
	bool finished;	   /* done() was called */
};

void relay_init(struct relay *r, struct loop *l, const struct relay_ops *ops, void *ctx);
/* Takes ownership of fd (connected, non-blocking) and starts relaying. early: bytes already
 * read from it (a proxy's read-ahead), sent to the client before anything else (copied). */
void relay_start(struct relay *r, int fd, const uint8_t *early, size_t early_len);
/* Client data for the target, kept by reference in b until relay_batch_flush(b) (the data
 * must stay valid until then: ssh_in_pin). Dropped, with its window handed back, once a
 * write failed. */
void relay_queue(struct relay *r, struct relay_batch *b, const uint8_t *p, size_t len);
/* Ends the pass: each dirty relay sends its data in one sendmsg, the rest is buffered. */
void relay_batch_flush(struct relay_batch *b);
/* The client sent EOF. */
void relay_client_eof(struct relay *r);
/* The client side may have room again (window opened, output drained, key exchange done). */
void relay_resume(struct relay *r);
/* The client side is gone: only hand the buffered client data over, then done(). */
void relay_drain(struct relay *r);
/* Client data not yet taken by the target (buffered or in this pass's batch). */
bool relay_pending(const struct relay *r);
/* Closes the socket and drops the buffers and any spans in the batch. Idempotent. */
void relay_release(struct relay *r);

#endif
