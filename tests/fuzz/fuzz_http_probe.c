/* The --stealth HTTP parser (src/transport/http_probe.c) on arbitrary bytes, the way the
 * stealth transport drives it: parse, answer, drop what was consumed and the body (a length or
 * chunks), repeat. Checks: consumed and dropped bytes never pass the input, a body that wants
 * more took all there was, statuses are the documented ones, answers fit; the same request
 * as plain HTTP on the TLS port (http_probe_to_https) closes and its answer fits too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/http_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
	size_t off = 0;

	memcpy(p, data, size);
	for (int round = 0; round < 64 && off < size; round++) {
		struct http_probe_req req;
		char out[HTTP_PROBE_ANSWER_MAX + 1];
		if (http_probe_parse(p + off, size - off, &req) == HTTP_PROBE_MORE)
			break;
		switch (req.status) {
		case 400:
		case 403:
		case 404:
		case 405:
		case 413:
		case 414:
		case 494:
		case 501:
		case 505:
			break;
		default:
			abort();
		}
		size_t n = http_probe_answer(&req, 0, !req.keep_alive, out);
		if (n == 0 || n >= HTTP_PROBE_ANSWER_MAX)
			abort();
		struct http_probe_req plain = req;
		http_probe_to_https(&plain);
		if (plain.status != req.status && plain.status != HTTP_PROBE_TO_HTTPS)
			abort();
		if (plain.keep_alive) /* every plain-HTTP answer closes */
			abort();
		n = http_probe_answer(&plain, 0, true, out);
		if (n == 0 || n >= HTTP_PROBE_ANSWER_MAX)
			abort();
		if (!req.keep_alive)
			break;
		if (req.consumed == 0 || req.consumed > size - off)
			abort();
		off += req.consumed;
		size_t used;
		enum http_probe_result r =
			http_probe_body_drop(&req.body, p + off, size - off, &used);
		if (used > size - off ||
		    (r != HTTP_PROBE_DONE && used != size - off && r != HTTP_PROBE_BAD))
			abort();
		if (r != HTTP_PROBE_DONE)
			break;
		off += used;
	}
	free(p);
	return 0;
}
