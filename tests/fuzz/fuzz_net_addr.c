/* net_parse_addr: the --listen value ("IPv4:PORT", "[IPv6]:PORT", numeric only). What parses
 * must print back with net_addr_str and parse again to the same socket address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "net.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss, ss2;
	socklen_t len = 0, len2 = 0;
	char *s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (net_parse_addr(s, &ss, &len) != 0) {
		free(s);
		return 0;
	}
	uint16_t port;
	if (ss.ss_family == AF_INET) {
		FUZZ_CHECK(len == sizeof(struct sockaddr_in));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		FUZZ_CHECK(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	FUZZ_CHECK(port != 0);

	char host[64], again[96];
	net_addr_str(&ss, host, sizeof(host));
	snprintf(again, sizeof(again), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 (unsigned)port);
	memset(&ss2, 0, sizeof(ss2));
	FUZZ_CHECK(net_parse_addr(again, &ss2, &len2) == 0);
	FUZZ_CHECK(len2 == len && memcmp(&ss, &ss2, len) == 0);
	free(s);
	return 0;
}
