#include "policy.h"

#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define RESERVED_PREFIX "alknet-"

enum policy_verdict policy_check(const char *host, size_t host_len, uint32_t port)
{
	if (host_len == 0 || host_len > POLICY_MAX_HOST || strlen(host) != host_len)
		return POLICY_INVALID;
	/* Reserved names are checked before anything else looks at the host. */
	if (strncasecmp(host, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0) {
		bool control = strcasecmp(host, POLICY_CONTROL_HOST) == 0 && port == 0;
		return control ? POLICY_CONTROL : POLICY_RESERVED;
	}
	if (port == 0 || port > 65535)
		return POLICY_INVALID;
	for (size_t i = 0; i < host_len; i++) {
		unsigned char ch = (unsigned char)host[i];
		if (ch <= 0x20 || ch == 0x7f)
			return POLICY_INVALID;
	}
	return POLICY_ALLOW;
}

const char *policy_reason_text(enum policy_verdict v)
{
	switch (v) {
	case POLICY_RESERVED:
	case POLICY_CONTROL:
		return "reserved destination";
	case POLICY_INVALID:
		return "invalid destination";
	default:
		return "";
	}
}

bool policy_permits_allow(const struct policy_permits *p, const char *host, uint32_t port)
{
	if (p == NULL || p->n_open == 0)
		return true;
	for (size_t i = 0; i < p->n_open; i++) {
		const struct policy_permit *o = &p->open[i];
		if (o->port != POLICY_ANY_PORT && (uint32_t)o->port != port)
			continue;
		if (strcmp(o->host, "*") == 0 || strcmp(o->host, host) == 0)
			return true;
	}
	return false;
}

void policy_permits_clear(struct policy_permits *p)
{
	for (size_t i = 0; i < p->n_open; i++)
		free(p->open[i].host);
	free(p->open);
	p->open = NULL;
	p->n_open = 0;
}
