/* policy_check: the destination check every direct-tcpip open goes through.
 * Input: 4 bytes big-endian port, then the host bytes as they came off the wire (NULs kept). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint32_t port = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
			data[3];
	size_t host_len = size - 4;
	/* Exactly host_len bytes plus the terminator the engine adds, so ASan sees any over-read.
	 */
	char *host = malloc(host_len + 1);
	memcpy(host, data + 4, host_len);
	host[host_len] = '\0';

	enum policy_verdict v = policy_check(host, host_len, port);
	const char *text = policy_reason_text(v);
	if (text == NULL)
		abort();
	switch (v) {
	case POLICY_ALLOW:
		/* Whatever is allowed must be a sane, non-reserved name and a real port. */
		if (host_len == 0 || host_len > POLICY_MAX_HOST || strlen(host) != host_len ||
		    port == 0 || port > 65535 || strncasecmp(host, "alknet-", 7) == 0)
			abort();
		for (size_t i = 0; i < host_len; i++) {
			unsigned char c = (unsigned char)host[i];
			if (c <= 0x20 || c == 0x7f)
				abort();
		}
		if (text[0] != '\0')
			abort();
		break;
	case POLICY_RESERVED:
		if (strncasecmp(host, "alknet-", 7) != 0 || text[0] == '\0' ||
		    (strcasecmp(host, "alknet-control") == 0 && port == 0))
			abort();
		break;
	case POLICY_CONTROL:
		/* only alknet-control:0, in any case */
		if (strcasecmp(host, "alknet-control") != 0 || port != 0 || text[0] == '\0')
			abort();
		break;
	case POLICY_INVALID:
		if (text[0] == '\0')
			abort();
		break;
	default:
		abort();
	}
	free(host);
	return 0;
}
