/* Small whole files (host keys, authorized_keys) read into memory with a size bound. The SSH
 * engine (src/ssh/) reads no files: its callers read them here and hand it the bytes. */
#ifndef ALKNET_FILE_H
#define ALKNET_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Reads all of path if it holds at most max bytes (max < SIZE_MAX; regular files, pipes,
 * anything read() works on). Returns 0 with *out, an xmalloc'd buffer of *len bytes and a NUL
 * after them (so text may be parsed as a C string), or -errno: -EFBIG when there are more than
 * max bytes, otherwise what open() or read() failed with (-ENOENT, -EACCES, -EISDIR, ...);
 * *out and *len are left alone on failure. The caller owns *out: file_free_secret() when it
 * may hold a secret (a private key), free() otherwise. Buffers outgrown while reading are
 * wiped before they are freed, so no copy of a secret is left behind in freed memory. */
int file_read_small(const char *path, size_t max, uint8_t **out, size_t *len);

/* Wipes the len bytes (and the NUL) of a buffer from file_read_small and frees it; NULL is a
 * no-op. */
void file_free_secret(uint8_t *buf, size_t len);

struct diag;

/* OpenSSH's StrictModes for a file the server trusts (configuration, authorized keys, host
 * key): refused when group or others may write it, when it is owned by someone other than
 * root or this process's user, or when its directory is writable by group or others (unless
 * sticky, like /tmp) or owned by someone else. Each problem goes to d as "PATH: ...; run:
 * FIX". Returns 0, or -1 after reporting. Symbolic links are followed to the real file. */
int file_check_mode(const char *path, struct diag *d);

#endif
