/* The direct-tcpip channel type (RFC 4254 §7.2): policy check, outbound connect, then a relay
 * between the channel and the target socket until both directions are done. */
#ifndef ALKNET_CHANNEL_DIRECT_TCPIP_H
#define ALKNET_CHANNEL_DIRECT_TCPIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct chan_type;

/* The type's entry for a session's table (channel.h). */
extern const struct chan_type chan_direct_tcpip;

/* The type-specific fields of a direct-tcpip CHANNEL_OPEN. */
struct tcpip_open {
	char host[POLICY_MAX_HOST + 1]; /* NUL-terminated, cut at POLICY_MAX_HOST */
	size_t host_len;		/* on the wire: differs from strlen(host) when the name
					 * held a NUL or was too long (policy_check refuses it) */
	uint32_t port;
	uint32_t orig_port;
};

/* Parses host, port, originator address and port from the bytes after CHANNEL_OPEN's common
 * fields. Returns 0, or -EBADMSG when a field is missing or bytes follow the last one. */
int tcpip_parse_open(const uint8_t *p, size_t n, struct tcpip_open *out);

struct channel;

/* Whether c's session may open a channel to host:port (the login's grants and the
 * --policy name rules): NULL, or the refusal text. The control channel asks it for
 * alknet-control:0 too, so per-key and per-principal rules decide who may use the hub. */
const char *tcpip_permission(const struct channel *c, const char *host, uint32_t port,
			     bool names_only);

#endif
