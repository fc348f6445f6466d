/* Socket helpers: address parsing, listening sockets, socket options. */
#ifndef ALKNET_NET_H
#define ALKNET_NET_H

#include <stdint.h>
#include <sys/socket.h>

/* Parses "IPv4:PORT", "[IPv6]:PORT" (numeric only, port 1..65535). Returns 0 or -EINVAL. */
int net_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* Non-blocking, close-on-exec listening socket with SO_REUSEADDR (IPV6_V6ONLY on for "[::]").
 * Returns the fd, or -errno. */
int net_listen(const struct sockaddr_storage *ss, socklen_t len, int backlog);
int net_set_nonblock(int fd);
int net_set_nodelay(int fd);
/* Numeric text of the address without port ("203.0.113.5", "::1"); out must hold 64 bytes. */
void net_addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen);
/* Raises RLIMIT_NOFILE soft limit to the hard limit; returns the new soft limit. */
long net_raise_nofile(void);

#endif
