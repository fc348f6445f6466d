/* Which direct-tcpip destinations may be connected: malformed and reserved destinations
 * (policy_check), what an authorized_keys line grants (struct policy_permits: forwarding,
 * permitopen), and who is asking (struct policy_subject, for the --policy rules of
 * policy_rules.h). C library only. */
#ifndef ALKNET_POLICY_H
#define ALKNET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_INVALID = 1,  /* empty, too long, NUL inside, bad port: refuse as connect failed */
	POLICY_RESERVED = 2, /* "alknet-*": never resolved or connected */
	POLICY_CONTROL = 3,  /* "alknet-control" port 0: the control channel, not a connect */
};

#define POLICY_MAX_HOST	    255
#define POLICY_CONTROL_HOST "alknet-control"

/* host is NUL-terminated; host_len is its length on the wire (a NUL inside shows as
 * strlen(host) != host_len). */
enum policy_verdict policy_check(const char *host, size_t host_len, uint32_t port);
/* Text for the CHANNEL_OPEN_FAILURE of a refused verdict (never logged with the host). */
const char *policy_reason_text(enum policy_verdict v);

#define POLICY_ANY_PORT (-1)

/* One permitopen="host:port": host "*" is any host, port POLICY_ANY_PORT any port. */
struct policy_permit {
	char *host; /* brackets of an IPv6 address removed */
	int port;
};

/* What an authorized_keys line lets its key forward (sshd(8): restrict, [no-]port-forwarding,
 * permitopen). Owned by the line's entry (auth/authorized_keys.h). */
struct policy_permits {
	bool forwarding;	    /* direct-tcpip allowed at all */
	size_t n_open;		    /* 0: any destination the rules allow */
	struct policy_permit *open; /* n_open of them */
};

/* OpenSSH's open_match: with no permitopen every destination passes; otherwise one entry must
 * match, host compared as text (case-sensitive, no lookup, no patterns but "*"). NULL p
 * allows everything; forwarding is not looked at here. */
bool policy_permits_allow(const struct policy_permits *p, const char *host, uint32_t port);
void policy_permits_clear(struct policy_permits *p);

/* Who opens a channel, for `principal` and `key` rules and permitopen. Owned by the session,
 * lent to its channels; everything it points to lives as long as the session. */
struct policy_subject {
	const char *key_fp;		      /* "SHA256:..." of the key that logged in */
	const char *const *principals;	      /* a certificate's, NULL-terminated; NULL: none */
	const struct policy_permits *permits; /* NULL: no authorized_keys restriction */
};

#endif
