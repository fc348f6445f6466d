/* Server-wide state that sessions read and never change: the parsed configuration, the
 * authorized set, the proxy and the engine settings, as one snapshot. A reload (SIGHUP) builds
 * a new snapshot and makes it current; the old one lives on while something still holds it.
 *
 * Ownership: the server holds the current snapshot; a session takes a reference for its life
 * (its login grace time, attempts and stall bounds stay those it started with), a channel one
 * for its own (its timeouts and the proxy URL its outbound connection borrows). The last
 * settings_unref frees it. The reference count is the one field that changes; it is only
 * touched on the loop's thread (with one loop per core later, it becomes atomic). The host key
 * is loaded once at start and owned by the server: every snapshot borrows it. */
#ifndef ALKNET_SETTINGS_H
#define ALKNET_SETTINGS_H

#include "ssh/ssh.h"

struct config;
struct authkeys;
struct cert_cas;
struct revoked;
struct diag;
struct policy_rules;
struct proxy_url;
struct ssh_key;

struct settings {
	unsigned refs;
	struct config *cfg;	       /* owned */
	struct ssh_key *host_key;      /* borrowed from the server */
	struct policy_rules *policy;   /* owned: --policy and --deny-private; NULL: allow all */
	struct authkeys *authkeys;     /* owned; NULL without --authorized-keys */
	struct cert_cas *cas;	       /* owned: --cert-authority; NULL without */
	struct revoked *revoked;       /* owned: --revoked-keys; NULL without */
	const struct proxy_url *proxy; /* in cfg; NULL: connect directly */
	struct ssh_config ssh;	       /* host keys: &host_key */
	unsigned stall_ms;	/* output kept over its bound this long: the client is dropped */
	struct ssl_ctx_st *tls; /* --transport tls: the server context (owned; SSL_CTX) */
};

/* Loads what cfg names besides the host key (the authorized keys, with their file's mode
 * checked; the TLS certificate and key) into a new snapshot holding one reference. Takes cfg over,
 * also on failure. Returns NULL after reporting every problem to d. */
/* Loads what cfg names besides the host key (the authorized keys and the --policy file, with
 * their files' modes checked) into a new snapshot holding one reference. Takes cfg over, also on
 * failure. Returns NULL after reporting every problem to d. */
struct settings *settings_load(struct config *cfg, struct ssh_key *host_key, struct diag *d);
/* Reads the host key at path (refused when others can read or change it). 0, or -1 after
 * reporting to d. */
int settings_load_host_key(const char *path, struct ssh_key **out, struct diag *d);
const struct settings *settings_ref(const struct settings *set);
/* Drops a reference; the last one frees the snapshot. NULL is a no-op. */
void settings_unref(const struct settings *set);

#endif
