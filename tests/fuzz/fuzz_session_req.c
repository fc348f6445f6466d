/* sesschan_parse_pty and sesschan_parse_string: the request-specific bytes of every pty-req,
 * exec and subsystem request a client sends on a session channel. Input: one byte choosing
 * the parser (even: pty-req, odd: one string), then the bytes after want_reply, as they come
 * off the wire. A parse that succeeds must account for every byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t n = size - 1;
	/* An exact-size copy, so ASan sees any read past the end. */
	uint8_t *p = malloc(n ? n : 1);
	memcpy(p, data + 1, n);
	if (data[0] % 2 == 0) {
		struct sesschan_pty pty;
		if (sesschan_parse_pty(p, n, &pty) == 0 &&
		    (n < 24 || pty.term_len + pty.modes_len != n - 24))
			abort();
	} else {
		size_t len;
		if (sesschan_parse_string(p, n, &len) == 0 && (n < 4 || len != n - 4))
			abort();
	}
	free(p);
	return 0;
}
