/* The server's host key, loaded from its file. The file is read here, outside src/ssh/ (the
 * engine reads no files), and parsed by the engine's ssh_key_parse_private. */
#ifndef ALKNET_HOSTKEY_H
#define ALKNET_HOSTKEY_H

#include <stddef.h>

struct ssh_key;

/* Reads and parses an unencrypted OpenSSH private key file of at most 64 KiB. Returns 0 and
 * the key in *out (the caller frees it with ssh_key_free), -errno when the file can't be read
 * (-EFBIG: too large for a key), or -EINVAL when it holds no usable key; err (may be NULL)
 * gets a one-line reason. The file's bytes are wiped from memory before returning. The name
 * is the one it had in src/ssh/key.c, so callers did not change. */
int ssh_key_load_private(const char *path, struct ssh_key **out, char *err, size_t errlen);

#endif
