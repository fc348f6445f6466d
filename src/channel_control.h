/* The control channel (alknet ADR-018): a direct-tcpip open to alknet-control:0 is not a
 * connect but an endpoint of this loop's event hub (hub.h). The client sends frames
 * (control_frame.h): `__subscribe` / `__unsubscribe` with payload.topic, or an envelope
 * published on the topic named by its type; it receives, in order per publisher, the frames
 * others publish on the topics it subscribed to (never its own).
 *
 * Who may: --control allow and the session's control_allowed (channel.h); otherwise the open
 * is refused ADMINISTRATIVELY_PROHIBITED. A malformed frame (bad length, over
 * --control-max-frame, invalid JSON, no type) closes only this channel, after a one-line
 * reason on stderr (extended data). A subscriber more than --control-max-queue behind is cut
 * off as a slow consumer. INFO lines: opened / closed (with the reason), with the session's
 * address; never a topic or a payload.
 *
 * The state (c->state) owns the hub endpoint and the partial frame buffer; release detaches
 * the endpoint and frees the buffer. */
#ifndef ALKNET_CHANNEL_CONTROL_H
#define ALKNET_CHANNEL_CONTROL_H

struct chan_type;

/* Not in a session's table: direct-tcpip's pick op hands alknet-control:0 opens to it. */
extern const struct chan_type chan_control;

#endif
