/* OpenSSH's algorithm-list syntax (sshd_config Ciphers, MACs, KexAlgorithms,
 * HostKeyAlgorithms) as a pure function: no I/O, nothing global, C library and xmalloc only.
 * config.c applies it to the engine's default and supported lists (ssh.h ssh_alg_default,
 * ssh_alg_supported) for --kex-algorithms, --ciphers, --macs and --host-key-algorithms.
 *
 * Ownership: alglist_edit gives the caller a new string it frees with free(). */
#ifndef ALKNET_ALGLIST_H
#define ALKNET_ALGLIST_H

#include <stdbool.h>
#include <stddef.h>

/* Applies spec to def (the default list) and returns the resulting list. def and supported
 * are comma-separated names (trusted: def's names are all in supported); spec is not trusted:
 *   "a,b"   the list is a,b (it replaces def)
 *   "+a,b"  def, then a,b
 *   "-a,b"  def without a,b
 *   "^a,b"  a,b, then def
 * Each name in spec may be a pattern with '*' (any run of characters) and '?' (one), which
 * stands for every supported name it matches, in supported's order. A name that comes twice
 * keeps its first place. Returns 0 with *out set (comma-separated, never empty), or -1 with
 * a message in err (errlen bytes, may be 0): an empty list or empty name, '!' negation, a
 * name not in supported, a pattern that matches no supported name, or nothing left. */
int alglist_edit(const char *def, const char *supported, const char *spec, char **out, char *err,
		 size_t errlen);

/* True if name (nlen bytes) matches pattern (plen bytes) with '*' and '?' as above. Linear
 * in plen * nlen at worst. */
bool alglist_match(const char *pattern, size_t plen, const char *name, size_t nlen);

#endif
