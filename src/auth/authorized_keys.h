/* OpenSSH authorized_keys files: each key line is loaded with its options (authkeys_options.h:
 * restrict, [no-]port-forwarding, permitopen, from, expiry-time, principals, cert-authority);
 * lines with options we don't know, and other bad lines, are skipped with a warning naming
 * file:line, and the rest load.
 *
 * Ownership: the set owns its entries; an entry lives as long as the set (a session that
 * keeps one keeps a reference to the settings snapshot that holds the set). */
#ifndef ALKNET_AUTHORIZED_KEYS_H
#define ALKNET_AUTHORIZED_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "authkeys_options.h"

struct ssh_key;
struct authkeys;

/* One loaded line. opts.cert_authority: key is a CA for user certificates, never a user key
 * itself; opts.principals then limits the names its certificates may log in as. */
struct authkeys_entry {
	struct ssh_key *key;
	struct authkeys_opts opts;
	size_t line; /* in its file, for messages */
};

/* Reads path. Returns 0, or -errno when the file can't be read (nothing is logged then: the
 * caller reports it). Warnings go through log_warn("authorized_keys: FILE:LINE: reason"). */
int authkeys_load(const char *path, struct authkeys **out);
/* Same, on text already in memory; `name` is used in warnings. */
int authkeys_parse(const char *name, const char *text, size_t len, struct authkeys **out);
/* The first line (not cert-authority) whose key's public blob equals key's, or NULL; every
 * entry is compared (constant-time per comparison). Unlike sshd, a key listed twice is
 * decided by its first line only. */
const struct authkeys_entry *authkeys_find(const struct authkeys *a, const struct ssh_key *key);
/* The same among the cert-authority lines, for a certificate's signing key. */
const struct authkeys_entry *authkeys_find_ca(const struct authkeys *a,
					      const struct ssh_key *ca_key);
/* authkeys_find(a, key) != NULL. */
bool authkeys_contains(const struct authkeys *a, const struct ssh_key *key);
/* True if a loaded user key (not a CA) has this SHA256 fingerprint (ssh_key_fingerprint): whether a
 * session that logged in before a reload still has its key in the new set. */
bool authkeys_contains_fp(const struct authkeys *a, const char *fp);
/* The same for the CA keys of cert-authority lines. */
bool authkeys_contains_ca_fp(const struct authkeys *a, const char *fp);
/* Whether the entry's from= and expiry-time let a login from peer at now (Unix time) through:
 * NULL, or the reason for the reject log line ("key expired", "source address not allowed by
 * from="). */
const char *authkeys_entry_refusal(const struct authkeys_entry *e,
				   const struct sockaddr_storage *peer, int64_t now);
/* Lines loaded, cert-authority lines included. */
size_t authkeys_count(const struct authkeys *a);
void authkeys_free(struct authkeys *a);

#endif
