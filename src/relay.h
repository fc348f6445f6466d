/* Moving bytes between a channel's target socket and the SSH session, with backpressure both
 * ways: the target is read only while the client's window and the session output have room;
 * client data is acknowledged (window) only once the target socket has taken it. */
#ifndef ALKNET_RELAY_H
#define ALKNET_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct channel;

/* The target socket is connected: start relaying. */
void relay_start(struct channel *c);
/* Client data for the target (SSH_EV_CHANNEL_DATA): kept until relay_flush, which the session
 * calls once per pass, so many small packets become one send. */
void relay_to_target(struct channel *c, const uint8_t *data, size_t len);
void relay_flush(struct channel *c);
/* Re-evaluates what to poll for (window opened, output drained, EOF). */
void relay_update(struct channel *c);

#endif
