/* The forwarding policy (--policy FILE, --deny-private): an ordered list of rules, the first
 * that matches a destination decides, else the default.
 *
 *   deny  to 169.254.0.0/16
 *   deny  to 127.0.0.0/8, ::1
 *   allow principal ops to *:22
 *   allow key SHA256:... to [2001:db8::/32]:443
 *   allow to *.internal.example.com:443
 *   allow to 10.20.0.0/16:80-89
 *   default deny
 *
 * A destination is HOST[:PORTS]: HOST a `*`/`?` name glob (case-insensitive) or an IPv4/IPv6
 * address or network (IPv6 bare, or in brackets when a port follows); PORTS `*`, N or N-M
 * (none: any). `principal NAME` (a certificate principal) and `key FP` narrow a rule to one
 * subject. The --deny-private networks come after the file's rules, before its default.
 *
 * A glob matches the name the client asked for; a network matches an address. The name check
 * (before any lookup) refuses only when every address would be refused; the address check
 * then decides each resolved address (name and address known), and only the allowed ones are
 * connected to. Through a proxy that resolves (socks5h://, http://) only the name check runs,
 * with networks matching IP literals only.
 *
 * Ownership: policy_rules_parse gives the caller the list (policy_rules_free); matching only
 * reads it. The settings snapshot owns the current one. C library and addrmatch only. */
#ifndef ALKNET_POLICY_RULES_H
#define ALKNET_POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy.h"

#define POLICY_RULES_MAX      4096 /* rules in a file */
#define POLICY_RULES_LINE_MAX 4096

struct policy_rules;

enum policy_rules_verdict {
	POLICY_RULES_DENY = 0,
	POLICY_RULES_ALLOW = 1,
	POLICY_RULES_DEPENDS = 2, /* name check only: an address rule decides; resolve first */
};

/* Where a rule file is wrong: 1-based line and column, and what. */
struct policy_rules_error {
	unsigned line, col;
	char msg[128];
};

/* Parses text[0..len) (no NUL needed); deny_private appends the preset. text NULL: no file
 * (default allow). 0 and *out, or -EINVAL with err filled. */
int policy_rules_parse(const char *text, size_t len, bool deny_private, struct policy_rules **out,
		       struct policy_rules_error *err);
void policy_rules_free(struct policy_rules *p);
/* Rules in force (the preset's count as one). */
size_t policy_rules_count(const struct policy_rules *p);
/* The name check: host as the client sent it (NUL-terminated), port. names_only: no address
 * check will follow (a proxy resolves): never DEPENDS, networks match IP literals only. NULL
 * p allows. who may be NULL (no principals, no key). */
enum policy_rules_verdict policy_rules_name(const struct policy_rules *p,
					    const struct policy_subject *who, const char *host,
					    uint16_t port, bool names_only);
/* The address check of one resolved address of host. */
bool policy_rules_addr(const struct policy_rules *p, const struct policy_subject *who,
		       const char *host, uint16_t port, const struct sockaddr *sa);

#endif
