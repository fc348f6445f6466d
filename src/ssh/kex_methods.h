/* Key exchange methods: the table kex.c negotiates from, and each method's server side.
 *
 * Every method here has the same shape on the wire (RFC 5656 §4, RFC 4253 §8, RFC 8731,
 * RFC 9941, draft-ietf-sshm-mlkem-hybrid-kex): the client sends message 30 with one string
 * (or mpint, the same bytes on the wire) C_INIT; the server answers message 31 with its host
 * key, one string (or mpint) S_REPLY and its signature over
 *     H = HASH(V_C || V_S || I_C || I_S || K_S || string C_INIT || string S_REPLY || K)
 * where K is the shared secret as the method encodes it (mpint for the classic ones, string for
 * the post-quantum hybrids); K is used in that same encoding for key derivation.
 *
 * Files: kex_methods.c (the table and the name lists), kex_ecdh.c (curve25519 and
 * ecdh-sha2-nistp*), kex_pq.c (mlkem768x25519, sntrup761x25519), kex_dh.c (finite-field
 * diffie-hellman-group*). kex.c does the negotiation and the state machine. */
#ifndef ALKNET_SSH_KEX_METHODS_H
#define ALKNET_SSH_KEX_METHODS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct ssh_crypto;

enum kex_hash {
	KEX_SHA256 = 0,
	KEX_SHA384 = 1,
	KEX_SHA512 = 2,
};

enum kex_err {
	KEX_OK = 0,
	KEX_ERR_PEER = -1,   /* the client's value is malformed or refused */
	KEX_ERR_CRYPTO = -2, /* libcrypto failed */
};

/* The server side of one method: checks the client's C_INIT (len bytes, hostile), puts
 * S_REPLY's bytes into *reply and K, already encoded (mpint or string), into *k. cr is the
 * loop's libcrypto cache (NULL: made for the call). Returns KEX_OK or a negative enum kex_err;
 * on failure the caller frees (and so wipes) both buffers. */
typedef int kex_reply_fn(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k);

struct kex_method {
	const char *name;
	enum kex_hash hash;
	kex_reply_fn *server_reply;
};

/* Every method we implement, in our order of preference; the finite-field groups are in the
 * supported list but not in the default one (OpenSSH 10's server dropped them). The strict-KEX
 * and ext-info markers are not methods and are in neither. */
extern const char KEX_DEFAULT_LIST[];
extern const char KEX_SUPPORTED_LIST[];

/* The method called name (NUL-terminated), or NULL when we have none by that name. */
const struct kex_method *kex_method_find(const char *name);
/* The same for a name that is not NUL-terminated (a piece of a client's name-list). */
const struct kex_method *kex_method_find_n(const uint8_t *name, size_t len);
/* The digest's output size in bytes: 32, 48 or 64. */
size_t kex_hash_len(enum kex_hash h);

/* kex_ecdh.c */
int kex_curve25519_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k);
int kex_nistp256_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len, struct sbuf *reply,
		       struct sbuf *k);
int kex_nistp384_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len, struct sbuf *reply,
		       struct sbuf *k);
int kex_nistp521_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len, struct sbuf *reply,
		       struct sbuf *k);
/* X25519 with the client's 32-byte public key q_c: our ephemeral public key to q_s, the raw
 * shared secret to secret. An all-zero secret (a low-order client point, RFC 8731 §3) is
 * refused. Returns KEX_OK or a negative enum kex_err. The hybrids use it too. */
int kex_x25519(struct ssh_crypto *cr, const uint8_t q_c[32], uint8_t q_s[32], uint8_t secret[32]);

/* kex_pq.c */
int kex_mlkem768x25519_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			     struct sbuf *reply, struct sbuf *k);
int kex_sntrup761x25519_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			      struct sbuf *reply, struct sbuf *k);

/* kex_dh.c */
int kex_dh_group14_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k);
int kex_dh_group16_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k);
int kex_dh_group18_reply(struct ssh_crypto *cr, const uint8_t *c_init, size_t len,
			 struct sbuf *reply, struct sbuf *k);

#endif
