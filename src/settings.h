/* Server-wide state that sessions read and never change: the parsed configuration, the host
 * key, the authorized set and the engine settings. Owned by server.c, which builds it before
 * the loop runs and is the only writer. A reload (issue 14) builds a new authorized set and
 * swaps the pointer between loop passes; a session reads it only while deciding a login, so
 * it never holds it across passes. With one loop per core later, the swap becomes an atomic
 * pointer with a reference per loop; nothing else here changes after start-up. */
#ifndef ALKNET_SETTINGS_H
#define ALKNET_SETTINGS_H

#include "ssh/ssh.h"

struct config;
struct authkeys;
struct proxy_url;
struct ssh_key;

struct settings {
	const struct config *cfg;
	struct ssh_key *host_key;
	const struct authkeys *authkeys;
	const struct proxy_url *proxy; /* NULL: connect directly */
	struct ssh_config ssh;	       /* host keys borrowed from host_key */
	unsigned stall_ms; /* output kept over its bound this long: the client is dropped */
};

#endif
