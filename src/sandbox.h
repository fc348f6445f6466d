/* Containment after start-up: once the listeners are bound and the host key is read, the
 * process drops to --user, gives up every capability, can't gain privileges again or dump
 * core, may read only the files it reloads (Landlock, where the kernel has it) and may make
 * only the system calls a tunnel server needs (a seccomp allowlist, sandbox_syscalls.c).
 * docs/security.md has the threat model. Process-wide; the server calls these once, in
 * order, from its main thread. */
#ifndef ALKNET_SANDBOX_H
#define ALKNET_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* Locks OpenSSL's secure heap in memory (never swapped, never in a core dump), so the host
 * key loaded after this lives there. Returns false when the kernel refused (RLIMIT_MEMLOCK):
 * the key then lives in ordinary memory. */
bool sandbox_secure_heap(void);

/* Switches to user (NULL: stay who we are): supplementary groups cleared, then group, then
 * user; checks that root cannot be regained. Refuses to go on as root unless user is "root".
 * Then: no capabilities in any set (effective, permitted, inheritable, ambient, bounding),
 * PR_SET_NO_NEW_PRIVS, no core dumps (RLIMIT_CORE 0, not dumpable). 0, or -1 with err. */
int sandbox_drop_privileges(const char *user, char *err, size_t errlen);

/* Landlock: from now on this thread and those it creates may only read files beneath dirs
 * (the directories of the files a reload reads) and the resolver's files in /etc, and write
 * none. Returns the Landlock ABI in force, or 0 when the kernel has none (nothing changed). */
int sandbox_restrict_files(const char *const *dirs, size_t n);

/* Installs the seccomp allowlist on every thread of the process (anything else kills it).
 * Returns 0, or -1 with err. */
int sandbox_install_filter(char *err, size_t errlen);

#endif
