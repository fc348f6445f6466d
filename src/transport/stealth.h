/* --stealth: a transport over TLS that waits for the client's first bytes before the SSH
 * banner may go out. "SSH-2.0-" (however it is split over reads) lets the connection through
 * unchanged; anything else is answered the way Debian 12's nginx answers requests for files
 * that don't exist (http_probe.c), with nginx's keep-alive and timeouts, and the owner (the
 * session) never sees a byte of it: the connection ends with an error for the owner, after one
 * INFO line naming the client (`stealth probe remote_addr=...`), for fail2ban. Where nginx ends
 * a connection without a TLS close_notify (a timeout in the middle of a request or of a body it
 * drops), the stream is cut under TLS first (transport_shut). */
#ifndef ALKNET_TRANSPORT_STEALTH_H
#define ALKNET_TRANSPORT_STEALTH_H

#include "transport.h"

struct loop;

/* Takes lower (the TLS transport) over: closed with it. addr names the client in the probe
 * log line. under: the plain layer below that TLS transport (transport_stealth_plain_new),
 * or NULL; borrowed (the TLS transport owns it), it logs and times a plain-HTTP probe itself,
 * so this one stays silent about that connection. */
struct transport *transport_stealth_new(struct loop *l, struct transport *lower, const char *addr,
					struct transport *under);

/* The same under TLS, deciding by the first byte as nginx does on its TLS port: a TLS record
 * (0x16, or an SSLv2 hello's high bit) passes through unchanged, the byte read ahead reported
 * through buffered() and a TRANSPORT_READ callback; anything else is answered as plain HTTP
 * sent to nginx's HTTPS port (http_probe_to_https) and logged the same way. Takes lower (TCP,
 * or the PROXY-header transport) over: closed with it. */
struct transport *transport_stealth_plain_new(struct loop *l, struct transport *lower,
					      const char *addr);

#endif
