/* The event hub behind `alknet-control:0` (alknet ADR-018): topics, their subscribers, and a
 * bounded queue of frames per subscriber. One hub per event loop (struct worker owns it); it
 * knows nothing about SSH: each endpoint (a control channel) is a struct hub_sub with two
 * callbacks.
 *
 * Delivery: hub_publish appends the frame to the queue of every other endpoint subscribed to
 * the topic, in call order, so each subscriber sees one publisher's frames in the order they
 * were published; never to the publisher itself. The bytes are stored once and shared by
 * reference between the queues.
 *
 * Backpressure: the publisher is never slowed. A subscriber whose queue would pass its limit
 * (--control-max-queue; each frame counts its length plus HUB_ENTRY_COST) is cut off instead:
 * its queue is dropped, it gets nothing more, and its owner is told through overflow() (it
 * should then hub_detach it). Others on the topic keep receiving. This is Redis's answer for
 * pub/sub clients (client-output-buffer-limit pubsub), and keeps one stuck reader from
 * stalling every publisher.
 *
 * Ownership: the owner of an endpoint (channel_control.c) attaches and detaches it; detach
 * frees it with its subscriptions and queue. The hub frees a topic with its last subscriber.
 * Callbacks run at the end of hub_publish, after the hub's lists are consistent, so either
 * callback may detach its own endpoint (and only that one). */
#ifndef ALKNET_HUB_H
#define ALKNET_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a queued frame costs beyond its bytes (entry, reference, allocator overhead), so that
 * many tiny frames are bounded by the queue limit as well. */
#define HUB_ENTRY_COST 64
/* Subscriptions one endpoint may hold. */
#define HUB_MAX_TOPICS 256

struct hub;
struct hub_sub;

struct hub_sub_ops {
	/* Frames were queued: send what the channel allows (hub_peek / hub_consume). */
	void (*ready)(void *ctx);
	/* The queue passed its limit: queued bytes dropped; the endpoint gets nothing more. */
	void (*overflow)(void *ctx, size_t queued);
};

struct hub *hub_new(void);
/* Every endpoint must have been detached. NULL is a no-op. */
void hub_free(struct hub *h);

/* A new endpoint whose queue may hold max_queue bytes. */
struct hub_sub *hub_attach(struct hub *h, size_t max_queue, const struct hub_sub_ops *ops,
			   void *ctx);
/* Unsubscribes s from everything and frees it and its queue. NULL is a no-op. */
void hub_detach(struct hub_sub *s);
/* Subscribing twice to a topic is one subscription; unsubscribing from a topic one doesn't
 * hold does nothing. subscribe returns 0, or -ENOSPC past HUB_MAX_TOPICS. */
int hub_subscribe(struct hub_sub *s, const char *topic, size_t len);
void hub_unsubscribe(struct hub_sub *s, const char *topic, size_t len);
/* Queues frame[0..len) (copied once) for every other subscriber of topic. */
void hub_publish(struct hub_sub *from, const char *topic, size_t tlen, const uint8_t *frame,
		 size_t len);

/* The next queued bytes to send (NULL, *len 0: none), and how many were sent. */
const uint8_t *hub_peek(const struct hub_sub *s, size_t *len);
void hub_consume(struct hub_sub *s, size_t n);
/* Bytes counted against the limit now; topics s holds; topics in the hub. */
size_t hub_queued(const struct hub_sub *s);
unsigned hub_sub_topics(const struct hub_sub *s);
unsigned hub_topics(const struct hub *h);

#endif
