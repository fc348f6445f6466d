/* OpenSSH authorized_keys files: key lines without options are loaded; option-carrying lines are
 * skipped with a warning naming file:line (until options are supported); bad lines warn and the
 * rest load. */
#ifndef ALKNET_AUTHORIZED_KEYS_H
#define ALKNET_AUTHORIZED_KEYS_H

#include <stdbool.h>
#include <stddef.h>

struct ssh_key;
struct authkeys;

/* Reads path. Returns 0, or -errno when the file can't be read (nothing is logged then: the
 * caller reports it). Warnings go through log_warn("authorized_keys: FILE:LINE: reason"). */
int authkeys_load(const char *path, struct authkeys **out);
/* Same, on text already in memory; `name` is used in warnings. */
int authkeys_parse(const char *name, const char *text, size_t len, struct authkeys **out);
/* True if key's public blob equals one of the loaded keys (constant-time per comparison). */
bool authkeys_contains(const struct authkeys *a, const struct ssh_key *key);
/* True if a loaded key has this SHA256 fingerprint (ssh_key_fingerprint): whether a session
 * that logged in before a reload still has its key in the new set. */
bool authkeys_contains_fp(const struct authkeys *a, const char *fp);
size_t authkeys_count(const struct authkeys *a);
void authkeys_free(struct authkeys *a);

#endif
