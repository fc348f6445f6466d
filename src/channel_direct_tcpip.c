/* direct-tcpip channels. Nothing here logs a destination. */
#include "channel_direct_tcpip.h"

#include <errno.h>
#include <string.h>

#include "ssh/buf.h"

int tcpip_parse_open(const uint8_t *p, size_t n, struct tcpip_open *out)
{
	struct sreader r;
	size_t hlen, olen;

	sreader_init(&r, p, n);
	const uint8_t *host = sreader_string(&r, &hlen);
	uint32_t port = sreader_u32(&r);
	(void)sreader_string(&r, &olen);
	uint32_t orig_port = sreader_u32(&r);
	if (r.err || sreader_left(&r) != 0)
		return -EBADMSG;
	size_t keep = hlen > POLICY_MAX_HOST ? POLICY_MAX_HOST : hlen;
	memcpy(out->host, host, keep);
	out->host[keep] = '\0';
	out->host_len = hlen;
	out->port = port;
	out->orig_port = orig_port;
	return 0;
}
