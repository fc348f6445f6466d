/* The HTTP CONNECT response parser (src/proxy/http_connect.h): the proxy's answer, fed as it
 * trickles in (pieces of 1, 2, 3, 5, ... bytes into the same struct, like reads from a socket).
 * The incremental answer must equal the one-shot answer on the same bytes; a header length
 * points just past a blank line. Then the request builder, with a destination host from the
 * input that passed policy_check (as every tunnel's host does): the request must be exactly
 * the documented three or four lines, so nothing in a host can inject a header. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "fuzz_common.h"
#include "policy.h"
#include "proxy/http_connect.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int parse_once(const uint8_t *in, size_t len, unsigned *status)
{
	struct http_connect_resp r = {0};
	uint8_t *copy = malloc(len ? len : 1); /* exact size for ASan */

	memcpy(copy, in, len);
	int ret = http_connect_parse(&r, copy, len);
	free(copy);
	*status = r.status;
	return ret;
}

static void check_parser(const uint8_t *in, size_t size)
{
	static const size_t steps[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 4096};
	struct http_connect_resp r = {0};
	size_t len = 0, i = 0;
	int ret = 0;

	while (len < size) {
		size_t step = steps[i++ % (sizeof(steps) / sizeof(steps[0]))];
		len += step < size - len ? step : size - len;
		ret = http_connect_parse(&r, in, len);
		FUZZ_CHECK(r.scanned <= len);
		if (ret != 0)
			break;
	}
	unsigned status;
	int once = parse_once(in, len, &status);
	FUZZ_CHECK(once == ret);
	if (ret > 0) {
		FUZZ_CHECK((size_t)ret <= len && ret <= HTTP_CONNECT_MAX_HEADER);
		FUZZ_CHECK(in[ret - 1] == '\n' && memcmp(in, "HTTP/1.", 7) == 0);
		FUZZ_CHECK(r.status == status && status >= 100 && status <= 999);
	} else if (ret < 0) {
		FUZZ_CHECK(ret == -EPROTO || ret == -EMSGSIZE);
	}
}

static void check_request(const uint8_t *in, size_t size)
{
	if (size < 3)
		return;
	uint16_t port = (uint16_t)(in[0] << 8 | in[1]);
	size_t n = size - 2 < 300 ? size - 2 : 300;
	char host[301];
	memcpy(host, in + 2, n);
	host[n] = '\0';
	if (policy_check(host, n, port) != POLICY_ALLOW)
		return;
	const char *user = n % 2 ? "proxyuser" : NULL;
	size_t len;
	char *req = http_connect_request(host, port, user, "pa:ss", &len);
	FUZZ_CHECK(req != NULL && strlen(req) == len);

	char authority[320];
	bool v6 = strchr(host, ':') != NULL && host[0] != '[';
	snprintf(authority, sizeof(authority), "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
		 (unsigned)port);
	char want[1024];
	snprintf(want, sizeof(want), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", authority,
		 authority, user ? "Proxy-Authorization: Basic cHJveHl1c2VyOnBhOnNz\r\n" : "");
	FUZZ_CHECK(strcmp(req, want) == 0);
	free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parser(data, size);
	check_request(data, size);
	return 0;
}
