/* Moving bytes between a channel's target socket and the SSH session, with backpressure both
 * ways: the target is read only while the client's window and the session output have room;
 * client data is acknowledged (window) only once the target socket has taken it. */
#ifndef ALKNET_RELAY_H
#define ALKNET_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct channel;

/* Client data of one pass, by reference into the engine's pinned input (ssh_in_pin), so that
 * it reaches each target in one sendmsg without being copied. One per server: a pass handles
 * one session. */
#define RELAY_BATCH_SPANS 64
struct relay_span {
	struct channel *c;
	const uint8_t *p;
	size_t len;
};
struct relay_batch {
	struct relay_span span[RELAY_BATCH_SPANS];
	int n;
};

/* The target socket is connected: start relaying. */
void relay_start(struct channel *c);
/* Client data for the target (SSH_EV_CHANNEL_DATA): kept until relay_flush, which the session
 * calls once per pass, so many packets become one send. data must stay valid until then
 * (ssh_in_pin); once the batch is full, or behind unsent data, it is copied. */
void relay_to_target(struct channel *c, const uint8_t *data, size_t len);
void relay_flush(struct channel *c);
/* Client data not yet taken by the target (buffered or in this pass's batch). */
bool relay_pending(const struct channel *c);
/* Re-evaluates what to poll for (window opened, output drained, EOF). */
void relay_update(struct channel *c);

#endif
