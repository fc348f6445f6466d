/* The PROXY protocol header parser (src/transport/proxy_header.h): the first bytes of a
 * connection from a load balancer, or from anyone pretending to be one. Checks besides memory
 * safety: a DONE header lies within the input and PROXY_HEADER_MAX (a v1 line within 107
 * bytes, ending in CRLF), every strict prefix of it is NEED_MORE, bytes after it change
 * nothing, an ERROR stays an error however many bytes follow, and the addresses of a
 * non-local header are IPv4 or IPv6 pairs of one family. "any" agrees with exactly one of
 * v1 and v2. */
#include <netinet/in.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "transport/proxy_header.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Parses an exact-size copy, so ASan sees any read past len. */
static enum proxy_header_status parse_copy(const uint8_t *in, size_t len, unsigned versions,
					   struct proxy_header *h)
{
	uint8_t *copy = malloc(len ? len : 1);

	memcpy(copy, in, len);
	enum proxy_header_status st = proxy_header_parse(copy, len, versions, h);
	free(copy);
	return st;
}

static void check_done(const uint8_t *in, size_t size, unsigned versions,
		       const struct proxy_header *h)
{
	struct proxy_header again;

	FUZZ_CHECK(h->len > 0 && h->len <= size && h->len <= PROXY_HEADER_MAX);
	FUZZ_CHECK(h->error == NULL && (h->version == 1 || h->version == 2));
	if (h->version == 1)
		FUZZ_CHECK(h->len <= PROXY_HEADER_V1_MAX && in[h->len - 2] == '\r' &&
			   in[h->len - 1] == '\n');
	if (!h->local) {
		FUZZ_CHECK(h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6);
		FUZZ_CHECK(h->src.ss_family == h->dst.ss_family);
	}
	/* The header alone parses the same: nothing after it mattered. */
	FUZZ_CHECK(parse_copy(in, h->len, versions, &again) == PROXY_HEADER_DONE);
	FUZZ_CHECK(again.len == h->len && again.local == h->local &&
		   memcmp(&again.src, &h->src, sizeof(h->src)) == 0);
	/* Truncated anywhere, it is only incomplete. */
	for (size_t i = 0; i < h->len; i++)
		FUZZ_CHECK(parse_copy(in, i, versions, &again) == PROXY_HEADER_NEED_MORE);
}

static enum proxy_header_status check_one(const uint8_t *in, size_t size, unsigned versions)
{
	struct proxy_header h;
	enum proxy_header_status st = parse_copy(in, size, versions, &h);

	switch (st) {
	case PROXY_HEADER_DONE:
		check_done(in, size, versions, &h);
		break;
	case PROXY_HEADER_ERROR:
		FUZZ_CHECK(h.error != NULL && h.error[0] != '\0');
		/* An error is final: a longer input is no better. */
		if (size > 0) {
			struct proxy_header more;
			uint8_t *longer = malloc(size + 64);
			memcpy(longer, in, size);
			memset(longer + size, '\n', 64);
			FUZZ_CHECK(proxy_header_parse(longer, size + 64, versions, &more) ==
				   PROXY_HEADER_ERROR);
			free(longer);
		}
		break;
	case PROXY_HEADER_NEED_MORE:
		FUZZ_CHECK(size < PROXY_HEADER_MAX);
		break;
	default:
		FUZZ_CHECK(0);
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > PROXY_HEADER_MAX + 64)
		size = PROXY_HEADER_MAX + 64;
	enum proxy_header_status any = check_one(data, size, PROXY_HEADER_ANY);
	enum proxy_header_status v1 = check_one(data, size, PROXY_HEADER_V1);
	enum proxy_header_status v2 = check_one(data, size, PROXY_HEADER_V2);

	if (any == PROXY_HEADER_DONE)
		FUZZ_CHECK((v1 == PROXY_HEADER_DONE) != (v2 == PROXY_HEADER_DONE));
	else
		FUZZ_CHECK(v1 == any || v2 == any);
	return 0;
}
