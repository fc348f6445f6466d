/* --revoked-keys: a plain list of what may no longer log in, one entry a line, '#' comments:
 *
 *     ssh-ed25519 AAAA... [comment]      a key (also a certificate's key, and a CA key: every
 *                                        certificate it signed)
 *     ssh-ed25519-cert-v01@openssh.com AAAA...   a certificate line revokes its key
 *     serial:N                           certificates with serial N (1 to 2^64 - 1; 0 means
 *                                        "no serial" and is refused)
 *     key-id:ID                          certificates with key ID exactly ID (the rest of the
 *                                        line, trimmed)
 *
 * A line that is none of these fails the file with "FILE:LINE: reason": at start the server
 * doesn't start, on SIGHUP the old list stays.
 *
 * Ownership: revoked_parse/revoked_load give the caller a list it frees with revoked_free; a
 * settings snapshot owns the one of --revoked-keys. Lookups only read; NULL holds nothing. */
#ifndef ALKNET_AUTH_REVOKED_H
#define ALKNET_AUTH_REVOKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssh_cert;
struct ssh_key;
struct revoked;

/* Parses text[0..len). 0 and *out, or -EINVAL with "NAME:LINE: reason" in err. */
int revoked_parse(const char *name, const char *text, size_t len, struct revoked **out, char *err,
		  size_t errlen);
/* The same on a file: also -errno when it can't be read (err says so). */
int revoked_load(const char *path, struct revoked **out, char *err, size_t errlen);
/* Whether the key with this fingerprint (ssh_key_fingerprint) is revoked. */
bool revoked_key_fp(const struct revoked *r, const char *fp);
bool revoked_key(const struct revoked *r, const struct ssh_key *k);
bool revoked_serial(const struct revoked *r, uint64_t serial);
bool revoked_key_id(const struct revoked *r, const char *key_id);
/* A certificate login: its key, its CA, its serial or its key ID revoked. NULL, or the
 * reason ("certificate key revoked", ...). */
const char *revoked_cert(const struct revoked *r, const struct ssh_cert *c);
/* Entries loaded (keys, serials and key IDs together). */
size_t revoked_count(const struct revoked *r);
void revoked_free(struct revoked *r);

#endif
