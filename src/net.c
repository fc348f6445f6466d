/* Socket helpers: numeric address parsing, listening sockets and socket options. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Parses a decimal port 1..65535: digits only, no sign, no spaces. */
static bool net_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535) {
		return false;
	}
	*port = (uint16_t)v;
	return true;
}

/* Splits s into host text (without brackets) and port text. Returns false when the shape is
 * wrong: no port, empty host, brackets around IPv4 or missing around IPv6. */
static bool net_split_addr(const char *s, char *host, size_t hostlen, const char **port, bool *v6)
{
	const char *colon;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			return false;
		}
		n = (size_t)(close - s - 1);
		s++;
		*port = close + 2;
		*v6 = true;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL) {
			return false;
		}
		n = (size_t)(colon - s);
		*port = colon + 1;
		*v6 = false;
	}
	if (n == 0 || n >= hostlen) {
		return false;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	return true;
}

/* Parses "IPv4:PORT" or "[IPv6]:PORT" (numeric only, port 1..65535) into ss/len.
 * Returns 0 or -EINVAL; ss and len are untouched on failure. */
int net_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_s;
	uint16_t port;
	bool v6;

	if (s == NULL || !net_split_addr(s, host, sizeof(host), &port_s, &v6) ||
	    !net_parse_port(port_s, &port)) {
		return -EINVAL;
	}
	if (v6) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
		if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1) {
			return -EINVAL;
		}
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
			return -EINVAL;
		}
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
	}
	return 0;
}

/* Opens a non-blocking, close-on-exec listening socket bound to ss, with SO_REUSEADDR and, for
 * IPv6, IPV6_V6ONLY (so "[::]" and "0.0.0.0" can both be bound). Returns the fd or -errno. */
int net_listen(const struct sockaddr_storage *ss, socklen_t len, int backlog)
{
	int one = 1;
	int ret;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1) {
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		goto out_close;
	}
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) {
		goto out_close;
	}
	if (bind(fd, (const struct sockaddr *)ss, len) == -1) {
		goto out_close;
	}
	if (listen(fd, backlog) == -1) {
		goto out_close;
	}
	return fd;
out_close:
	ret = -errno;
	close(fd);
	return ret;
}

int net_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1) {
		return -errno;
	}
	if ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		return -errno;
	}
	return 0;
}

int net_set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		return -errno;
	}
	return 0;
}

/* Writes the numeric address of ss without the port ("203.0.113.5", "::1") into out; "?" for
 * an unknown family. outlen should be at least 64. */
void net_addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const void *addr = NULL;

	if (outlen == 0) {
		return;
	}
	if (ss->ss_family == AF_INET) {
		addr = &((const struct sockaddr_in *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		addr = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
	if (addr == NULL || inet_ntop(ss->ss_family, addr, out, (socklen_t)outlen) == NULL) {
		snprintf(out, outlen, "?");
	}
}

/* Raises the RLIMIT_NOFILE soft limit to the hard limit. Returns the soft limit now in force,
 * or -errno when it cannot be read. */
long net_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		return -errno;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			rl.rlim_cur = old;
		}
	}
	return rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}
