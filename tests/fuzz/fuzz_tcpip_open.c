/* tcpip_parse_open: the direct-tcpip fields of every CHANNEL_OPEN a client sends, then the
 * policy check the channel type runs on them. Input: the bytes after CHANNEL_OPEN's common
 * fields, as they come off the wire. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel_direct_tcpip.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the end. */
	uint8_t *p = malloc(size ? size : 1);
	struct tcpip_open req;

	memcpy(p, data, size);
	if (tcpip_parse_open(p, size, &req) == 0) {
		size_t n = strlen(req.host);
		if (n > POLICY_MAX_HOST || n > req.host_len)
			abort();
		/* 4 + host + 4 + 4 + orig + 4 bytes, nothing after */
		if (req.host_len > size - 16)
			abort();
		if (policy_check(req.host, req.host_len, req.port) == POLICY_ALLOW &&
		    (n != req.host_len || req.port == 0 || req.port > 65535))
			abort();
	}
	free(p);
	return 0;
}
