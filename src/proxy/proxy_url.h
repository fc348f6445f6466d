/* Outbound proxy URLs, curl's conventions: socks5://[user:pass@]host:port (we resolve the
 * destination), socks5h://... (the proxy resolves it), http://[user:pass@]host:port (CONNECT).
 * host may be a name, an IPv4 address or [IPv6]; user and pass are percent-decoded. */
#ifndef ALKNET_PROXY_URL_H
#define ALKNET_PROXY_URL_H

#include <stddef.h>
#include <stdint.h>

enum proxy_scheme {
	PROXY_SOCKS5 = 1,
	PROXY_SOCKS5H = 2,
	PROXY_HTTP = 3,
};

struct proxy_url {
	enum proxy_scheme scheme;
	char *host; /* without brackets */
	uint16_t port;
	char *user; /* NULL when absent */
	char *pass; /* NULL when absent; wiped on free */
};

/* Returns 0, or -EINVAL with a one-line reason in err that never contains the password. */
int proxy_url_parse(const char *s, struct proxy_url **out, char *err, size_t errlen);
/* "socks5h://user@host:port" (no password) for log lines. */
void proxy_url_describe(const struct proxy_url *u, char *out, size_t outlen);
void proxy_url_free(struct proxy_url *u);

#endif
