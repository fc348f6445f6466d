/* Plain TCP: the first transport (transport.h). */
#ifndef ALKNET_TRANSPORT_TCP_H
#define ALKNET_TRANSPORT_TCP_H

#include "transport.h"

struct loop;

/* Takes ownership of fd (accepted, non-blocking), sets TCP_NODELAY and SO_KEEPALIVE and
 * registers it for reading; cb(ctx, events) reports readiness. Returns NULL (fd closed) when
 * the loop refuses the registration. */
struct transport *transport_tcp_new(struct loop *l, int fd, transport_cb *cb, void *ctx);

#endif
