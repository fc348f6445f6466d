/* Which direct-tcpip destinations may be connected. */
#ifndef ALKNET_POLICY_H
#define ALKNET_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_INVALID = 1,  /* empty, too long, NUL inside, bad port: refuse as connect failed */
	POLICY_RESERVED = 2, /* "alknet-*": never resolved or connected */
	POLICY_CONTROL = 3,  /* "alknet-control" port 0: the control channel, not a connect */
};

#define POLICY_MAX_HOST	    255
#define POLICY_CONTROL_HOST "alknet-control"

/* host is NUL-terminated; host_len is its length on the wire (a NUL inside shows as
 * strlen(host) != host_len). */
enum policy_verdict policy_check(const char *host, size_t host_len, uint32_t port);
/* Text for the CHANNEL_OPEN_FAILURE of a refused verdict (never logged with the host). */
const char *policy_reason_text(enum policy_verdict v);

#endif
