/* Address lists: "192.0.2.0/24, 2001:db8::/32, 127.0.0.3" parsed once into a list of
 * networks, and a test whether a peer address lies in one of them (--per-source-penalty-
 * exempt); single networks (policy rules); and OpenSSH pattern lists, "!10.0.0.5,10.0.0.0/8,
 * 192.168.1.*" (authorized_keys from=). C library only.
 *
 * Ownership: addrmatch_parse gives the caller a list it frees with addrmatch_free. A
 * matching call only reads it, so one list may be shared by several loops. */
#ifndef ALKNET_ADDRMATCH_H
#define ALKNET_ADDRMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Entries at most: a list longer than this is refused (it belongs in a file, not an option). */
#define ADDRMATCH_MAX 1024

struct addrmatch_net {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* bits: 0..32 or 0..128 */
	uint8_t addr[16];
};

struct addrmatch {
	size_t n;
	struct addrmatch_net net[]; /* n of them */
};

/* Parses a comma-separated list of addresses, each optionally with /prefix; blanks around
 * entries are allowed, empty entries are not. Host bits below the prefix must be zero
 * ("10.0.0.1/8" is refused: it is most likely a typo). Returns 0 and *out (owned by the
 * caller), or -EINVAL with a short reason in err. */
int addrmatch_parse(const char *s, struct addrmatch **out, char *err, size_t errlen);
void addrmatch_free(struct addrmatch *m);
/* Whether ss (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts as IPv4) lies in one
 * of m's networks. NULL m matches nothing. */
bool addrmatch_match(const struct addrmatch *m, const struct sockaddr_storage *ss);
/* Puts ss's address (IPv4-mapped unwrapped) into out[16] and returns its family, or 0 for a
 * family that has no address. */
int addrmatch_addr(const struct sockaddr_storage *ss, uint8_t out[16]);
/* Zeroes every bit of addr (4 or 16 bytes by family) below the first prefix bits. */
void addrmatch_mask(int family, uint8_t addr[16], unsigned prefix);

/* One network, "a.b.c.d[/n]" or "v6[/n]" (same rules as a list entry, no blanks). 0, or
 * -EINVAL with a reason in err. */
int addrmatch_parse_net(const char *s, struct addrmatch_net *out, char *err, size_t errlen);
/* Whether ss lies in net (IPv4-mapped IPv6 counts as IPv4). */
bool addrmatch_net_match(const struct addrmatch_net *net, const struct sockaddr_storage *ss);
/* `*` and `?` glob of OpenSSH's match_pattern, ASCII case-insensitive, over all of s. */
bool addrmatch_glob(const char *pat, const char *s);

/* An OpenSSH pattern list (sshd(8) from=, with no reverse DNS): comma-separated entries, each
 * an address or CIDR network (matched numerically) or a `*`/`?` glob matched against the
 * address's text (IPv4-mapped shown as IPv4); `!` negates. Owned by the caller
 * (addrmatch_patterns_free). */
struct addrmatch_patterns;
/* 0 and *out, or -EINVAL with a reason: an empty entry, one that looks like an address but
 * is not one (bad prefix, host bits set), blanks or control bytes inside an entry. */
int addrmatch_parse_patterns(const char *s, struct addrmatch_patterns **out, char *err,
			     size_t errlen);
void addrmatch_patterns_free(struct addrmatch_patterns *p);
/* OpenSSH's match_host_and_ip on the address alone: false when a negated entry matches,
 * true when a plain one does, false when none matches. */
bool addrmatch_patterns_match(const struct addrmatch_patterns *p,
			      const struct sockaddr_storage *ss);

#endif
