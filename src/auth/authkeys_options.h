/* The options field of an authorized_keys line (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"), parsed
 * as sshd parses it: comma-separated, case-insensitive names, values in double quotes with \"
 * for a quote inside. Supported with OpenSSH's meaning: restrict, [no-]port-forwarding,
 * permitopen, from, expiry-time, principals, cert-authority. Accepted but granting nothing
 * here (a tunnel server runs no commands and has no pty, X11, agent or tun): command,
 * environment, tunnel, permitlisten, [no-]pty, [no-]user-rc, [no-]X11-forwarding,
 * [no-]agent-forwarding, [no-]touch-required, verify-required. Anything else is an error:
 * the caller skips the line (fail closed). Pure: no files, no logs, no clock.
 *
 * Ownership: authkeys_options_parse fills a struct the caller owns and frees with
 * authkeys_options_free (also after a failed parse). */
#ifndef ALKNET_AUTH_AUTHKEYS_OPTIONS_H
#define ALKNET_AUTH_AUTHKEYS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../policy.h"

struct addrmatch_patterns;

struct authkeys_opts {
	bool cert_authority;		 /* the key is a CA for user certificates (part A) */
	char **principals;		 /* principals="a,b": NULL-terminated; NULL: none given */
	struct addrmatch_patterns *from; /* from="...": NULL when any client address may log in */
	int64_t expiry; /* expiry-time as Unix time: refused once now > it; 0: none */
	struct policy_permits permits; /* forwarding (default on) and permitopen */
};

/* Parses s[0..n) (the field before the key type) into out, which starts as a line without
 * options (forwarding allowed, nothing else). Returns 0, or -EINVAL with a short reason in err
 * (never a value: it may be secret-ish, e.g. an environment=). */
int authkeys_options_parse(const char *s, size_t n, struct authkeys_opts *out, char *err,
			   size_t errlen);
void authkeys_options_free(struct authkeys_opts *o);
/* expiry-time's "YYYYMMDD[HHMM[SS]][Z]": local time (the TZ in force) unless Z, as OpenSSH's
 * parse_absolute_time. 0 and *out, or -EINVAL. */
int authkeys_parse_time(const char *s, int64_t *out);

#endif
