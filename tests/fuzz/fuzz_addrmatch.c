/* addrmatch_parse: address lists (--per-source-penalty-exempt, later from= and policy rules).
 * Input: the list text (a NUL inside ends it, as on a command line). An accepted list must
 * be well formed, match each of its own networks, and parse back the same from its own
 * printed form. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const struct addrmatch *m, const struct addrmatch_net *net)
{
	struct sockaddr_storage ss;
	uint8_t masked[16];

	if ((net->family != AF_INET && net->family != AF_INET6) ||
	    net->prefix > (net->family == AF_INET ? 32 : 128))
		abort();
	memcpy(masked, net->addr, sizeof(masked));
	addrmatch_mask(net->family, masked, net->prefix);
	if (memcmp(masked, net->addr, sizeof(masked)) != 0)
		abort();
	memset(&ss, 0, sizeof(ss));
	if (net->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, net->addr, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, net->addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return; /* matched as IPv4: the IPv6 entry need not match it */
	}
	if (!addrmatch_match(m, &ss))
		abort();
}

/* Prints m back as a list and checks that it parses to the same entries. */
static void check_roundtrip(const struct addrmatch *m)
{
	size_t cap = m->n * (INET6_ADDRSTRLEN + 6) + 1, off = 0;
	char *s = malloc(cap), *err = malloc(64);
	struct addrmatch *again = NULL;

	s[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(m->net[i].family, m->net[i].addr, a, sizeof(a));
		off += (size_t)snprintf(s + off, cap - off, "%s%s/%u", i ? "," : "", a,
					m->net[i].prefix);
	}
	if (addrmatch_parse(s, &again, err, 64) != 0 || again->n != m->n)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		if (again->net[i].family != m->net[i].family ||
		    again->net[i].prefix != m->net[i].prefix ||
		    memcmp(again->net[i].addr, m->net[i].addr, 16) != 0)
			abort();
	}
	addrmatch_free(again);
	free(s);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[64];
	struct addrmatch *m = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	if (addrmatch_parse(s, &m, err, sizeof(err)) == 0) {
		if (m == NULL || m->n == 0 || m->n > ADDRMATCH_MAX)
			abort();
		for (size_t i = 0; i < m->n; i++)
			check_entry(m, &m->net[i]);
		check_roundtrip(m);
	} else if (m != NULL || err[0] == '\0') {
		abort();
	}
	addrmatch_free(m);
	free(s);
	return 0;
}
