/* Address lists: "192.0.2.0/24, 2001:db8::/32, 127.0.0.3" parsed once into a list of
 * networks, and a test whether a peer address lies in one of them. Used by
 * --per-source-penalty-exempt now, and later by from= and policy rules. C library only.
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

#endif
