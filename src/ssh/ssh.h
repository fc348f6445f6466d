/* The SSH-2 server engine, sans I/O: feed it received bytes, take the bytes it wants sent, and
 * pull events one at a time. No sockets, clocks or files inside. All answers (auth decisions,
 * channel confirmations) may come at any later time.
 *
 * Typical use:
 *     p = ssh_in_space(s, &n); r = read(fd, p, n); ssh_in_commit(s, r);
 *     while (ssh_next_event(s, &ev)) handle(ev);
 *     p = ssh_out_data(s, &n); w = write(fd, p, n); ssh_out_consume(s, w);
 */
#ifndef ALKNET_SSH_H
#define ALKNET_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssh;
struct ssh_channel;
struct ssh_key;
struct ssh_cert;
struct ssh_crypto;
struct iovec;

enum ssh_disconnect_reason {
	SSH_DISCONNECT_PROTOCOL_ERROR = 2,
	SSH_DISCONNECT_KEY_EXCHANGE_FAILED = 3,
	SSH_DISCONNECT_MAC_ERROR = 5,
	SSH_DISCONNECT_SERVICE_NOT_AVAILABLE = 7,
	SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED = 8,
	SSH_DISCONNECT_BY_APPLICATION = 11,
	SSH_DISCONNECT_TOO_MANY_CONNECTIONS = 12,
	SSH_DISCONNECT_AUTH_CANCELLED_BY_USER = 13,
	SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE = 14,
};

enum ssh_open_failure {
	SSH_OPEN_ADMINISTRATIVELY_PROHIBITED = 1,
	SSH_OPEN_CONNECT_FAILED = 2,
	SSH_OPEN_UNKNOWN_CHANNEL_TYPE = 3,
	SSH_OPEN_RESOURCE_SHORTAGE = 4,
};

enum ssh_event_type {
	SSH_EV_NONE = 0,
	SSH_EV_KEX_DONE = 1,	 /* a key exchange finished; channel data may flow again */
	SSH_EV_AUTH_REQUEST = 2, /* answer with ssh_auth_accept / ssh_auth_reject */
	SSH_EV_AUTH_REFUSED = 3, /* the engine refused a request itself (already answered) */
	SSH_EV_CHANNEL_OPEN = 4, /* answer with ssh_channel_confirm / ssh_channel_refuse */
	SSH_EV_CHANNEL_DATA = 5, /* data/len valid until the next engine call */
	SSH_EV_CHANNEL_EOF = 6,
	SSH_EV_CHANNEL_CLOSE = 7,    /* the channel is gone after this event: drop the pointer */
	SSH_EV_CHANNEL_WINDOW = 8,   /* the peer opened the window: more can be sent */
	SSH_EV_GLOBAL_REQUEST = 9,   /* informational; the engine has answered it */
	SSH_EV_DISCONNECT = 10,	     /* the session is over: flush ssh_out_data, then close */
	SSH_EV_CHANNEL_REQUEST = 11, /* answer with ssh_channel_request_reply if want_reply */
};

struct ssh_event {
	enum ssh_event_type type;
	struct ssh_channel *ch;
	/* CHANNEL_DATA */
	const uint8_t *data;
	size_t len;
	/* AUTH_REQUEST / AUTH_REFUSED. AUTH_REFUSED is an attempt the host should count and log
	 * like a rejected key: a method other than publickey, "none" (except as the first
	 * request: the client's opening question, which OpenSSH doesn't count), a user name too
	 * long or with a NUL, a service other than ssh-connection, a key the engine can't take
	 * (unknown type, malformed, out of bounds), an algorithm its key can't use, or a
	 * malformed request, after which the session ends (a DISCONNECT event follows). user and
	 * method are as received, cut short, "(invalid)" if they hold a NUL; text is a short
	 * reason ("none", "wrong service", "malformed", "algorithm mismatch", "key refused",
	 * ...). A request naming another user or service than the first one ends the session. */
	const char *user;
	const char *method;
	const struct ssh_key *key; /* the client's public key (a certificate's certified key) */
	/* AUTH_REQUEST with an OpenSSH certificate (key_cert.h): parsed, not judged (CA, type,
	 * validity, principals and options are the host's to check); NULL for a plain key.
	 * Valid until the request is answered. */
	const struct ssh_cert *cert;
	bool has_sig; /* false: a query ("would you accept this key?"); true: ssh_auth_verify */
	/* CHANNEL_OPEN: the type name (a NUL-terminated copy; a name with a NUL inside is refused
	 * by the engine) and the type-specific bytes after the common fields (RFC 4254 §5.1), for
	 * the host's channel type to parse; valid like CHANNEL_DATA's data. */
	const char *chan_type;
	const uint8_t *type_data;
	size_t type_len;
	/* GLOBAL_REQUEST: the name (cut at 64 bytes). CHANNEL_REQUEST (RFC 4254 §5.4) on a
	 * confirmed channel we have not closed: the request name, NUL-terminated, or "(invalid)"
	 * when it is longer than 64 bytes or holds a NUL; want_reply; the request-specific bytes
	 * after want_reply in type_data/type_len (the host parses them), valid like
	 * CHANNEL_DATA's data. Requests for a channel we closed are dropped unanswered. */
	const char *name;
	bool want_reply;
	/* DISCONNECT: reason and a short text; peer true if the peer sent it (text also for
	 * AUTH_REFUSED) */
	uint32_t reason;
	const char *text;
	bool peer;
};

/* The algorithm lists of KEXINIT a host may configure (ssh_config). */
enum ssh_alg_kind {
	SSH_ALG_KEX = 0,     /* key exchange methods */
	SSH_ALG_CIPHER = 1,  /* both directions */
	SSH_ALG_MAC = 2,     /* both directions; not negotiated with AEAD ciphers */
	SSH_ALG_HOSTKEY = 3, /* host key signature algorithms */
};
#define SSH_ALG_KINDS 4

struct ssh_config {
	struct ssh_key *const *host_keys; /* borrowed; must outlive the sessions */
	size_t n_host_keys;
	uint32_t window;     /* window granted per channel (default 2 MiB) */
	uint32_t max_packet; /* max channel data per packet we accept (default 32 KiB) */
	size_t out_limit;    /* ssh_channel_send_space is 0 while this much waits (default 1 MiB) */
	uint64_t rekey_bytes;  /* start a re-key after this many bytes either way (default 1 GiB) */
	uint32_t max_channels; /* open channels per session (default 4096) */
	/* Borrowed, per loop: one thread at a time; must outlive the sessions. NULL: libcrypto
	 * objects are made afresh for each use (slower; for tests and fuzzers). */
	struct ssh_crypto *crypto;
	/* Algorithm lists: comma-separated names from ssh_alg_supported, in preference order
	 * (the host edits them with alglist.h). Borrowed: they must outlive the sessions. NULL:
	 * ssh_alg_default. A name the engine does not support is never negotiated. The engine
	 * adds kex-strict-s-v00@openssh.com itself, and offers a host key algorithm only when
	 * one of host_keys can sign with it. */
	const char *kex_algorithms;
	const char *ciphers;
	const char *macs;
	const char *host_key_algorithms;
};

/* Comma-separated names in preference order (static strings): what the engine offers for
 * kind when its ssh_config list is NULL, and every name it can negotiate. NULL for a kind
 * out of range. */
const char *ssh_alg_default(enum ssh_alg_kind kind);
const char *ssh_alg_supported(enum ssh_alg_kind kind);
/* The host key algorithms key can sign with, comma-separated: its type's name, or
 * rsa-sha2-512,rsa-sha2-256 for RSA (never ssh-rsa's SHA-1). */
const char *ssh_alg_for_key(const struct ssh_key *key);

/* The libcrypto state sessions share: algorithms fetched once and reusable key contexts,
 * filled as sessions need them, so that a new session costs no libcrypto look-ups. It is not
 * thread-safe: make one per event loop (it goes in ssh_config.crypto of that loop's sessions)
 * and free it after the last of them. ssh_crypto_new only fails by aborting (out of memory);
 * a libcrypto failure shows later, as a failed key exchange. */
struct ssh_crypto *ssh_crypto_new(void);
void ssh_crypto_free(struct ssh_crypto *cr);

/* cfg is copied; host keys and crypto are borrowed. The banner is queued for sending at
 * once. */
struct ssh *ssh_new(const struct ssh_config *cfg);
void ssh_free(struct ssh *s);

/* Input: space to read into (allocated on demand), then how many bytes were read. */
uint8_t *ssh_in_space(struct ssh *s, size_t *avail);
void ssh_in_commit(struct ssh *s, size_t n);
/* Convenience: copies len bytes in (tests, fuzzers). */
void ssh_feed(struct ssh *s, const void *data, size_t len);

/* Processes input until one event is ready. Returns false when no event is ready (more input
 * needed, an answer is pending, or the session is over). CHANNEL_DATA points into the input
 * buffer: valid until the next ssh_next_event(), or while the input is pinned. */
bool ssh_next_event(struct ssh *s, struct ssh_event *ev);
/* Pinned, the input buffer is neither moved nor freed, so the data of every CHANNEL_DATA event
 * since pinning stays valid (a caller can then send several packets' data in one writev).
 * Don't call ssh_in_space/ssh_feed while pinned. Unpinning frees the buffer if it is empty. */
void ssh_in_pin(struct ssh *s, bool pin);

/* Output waiting to be written; consume what the socket took. */
const uint8_t *ssh_out_data(const struct ssh *s, size_t *len);
void ssh_out_consume(struct ssh *s, size_t n);

/* True while ssh_out_data holds at least out_limit bytes: channel sends are paused until the
 * caller has written some out. */
bool ssh_out_full(const struct ssh *s);
/* True once less than half of out_limit is waiting: a good moment to resume paused channels. */
bool ssh_out_low(const struct ssh *s);

/* True once the user is authenticated / once the session has ended. */
bool ssh_authenticated(const struct ssh *s);
bool ssh_closed(const struct ssh *s);
/* Sends DISCONNECT (if the transport allows) and ends the session. */
void ssh_disconnect(struct ssh *s, uint32_t reason, const char *text);
/* Starts a server-initiated key exchange (e.g. after a time limit). No-op if one is running. */
void ssh_rekey(struct ssh *s);
/* Sends a keepalive@openssh.com GLOBAL_REQUEST with want_reply (OpenSSH's
 * ClientAliveInterval probe): a live client answers REQUEST_SUCCESS or REQUEST_FAILURE,
 * which the engine takes without an event; the caller notices the answer as received bytes.
 * Only once authenticated; no-op otherwise. Held back during a key exchange like any
 * connection message. */
void ssh_keepalive(struct ssh *s);

/* Answering an AUTH_REQUEST. The engine has checked the key's form and that the algorithm
 * suits it, but not the signature: a signature check costs a public-key operation, so it is
 * done only for keys the host knows. In this order:
 *   1. look ev->key up (a certificate, ev->cert: check it); unknown: ssh_auth_reject.
 *   2. a query (!ev->has_sig): ssh_auth_accept sends PK_OK.
 *   3. signed: ssh_auth_verify; true: ssh_auth_accept completes authentication; false:
 *      ssh_auth_reject.
 * ssh_auth_verify checks the pending request's signature over the session id and the request
 * (RFC 4252 §7) at most once per request (later calls repeat the verdict); false for a query,
 * or when no request is pending. ssh_auth_accept on a signed request that ssh_auth_verify has
 * not passed sends USERAUTH_FAILURE, as ssh_auth_reject does. Both answers end the request. */
bool ssh_auth_verify(struct ssh *s);
void ssh_auth_accept(struct ssh *s);
void ssh_auth_reject(struct ssh *s);

/* Channel open answers. refuse frees the channel. */
void ssh_channel_confirm(struct ssh *s, struct ssh_channel *ch);
void ssh_channel_refuse(struct ssh *s, struct ssh_channel *ch, uint32_t reason, const char *text);

void ssh_channel_set_user(struct ssh_channel *ch, void *user);
void *ssh_channel_user(const struct ssh_channel *ch);
uint32_t ssh_channel_id(const struct ssh_channel *ch);

/* Sending data: how much may be sent now (0 while re-keying, when the peer's window is shut, or
 * while ssh_out_data holds out_limit bytes). */
size_t ssh_channel_send_space(struct ssh *s, struct ssh_channel *ch);
/* Zero-copy sends, e.g. for one readv(): lays out up to max_iov CHANNEL_DATA packets back to
 * back in the output buffer (each up to the peer's max packet, all together up to the send
 * space) and points iov at their data; returns how many (0: nothing may be sent now). commit
 * seals the packets holding the total bytes written there (the last one may be short) and
 * drops the rest; total == 0 cancels. */
size_t ssh_channel_data_reserve(struct ssh *s, struct ssh_channel *ch, struct iovec *iov,
				size_t max_iov);
void ssh_channel_data_commit(struct ssh *s, struct ssh_channel *ch, size_t total);
/* Copies up to len bytes; returns how many were taken. */
size_t ssh_channel_write(struct ssh *s, struct ssh_channel *ch, const void *data, size_t len);

/* The caller has passed n received bytes on (e.g. the target socket took them): the window we
 * grant the client grows by n, sent as WINDOW_ADJUST in batches. */
void ssh_channel_consumed(struct ssh *s, struct ssh_channel *ch, size_t n);
void ssh_channel_send_eof(struct ssh *s, struct ssh_channel *ch);
/* Sends CLOSE; the channel stays until the peer's CLOSE arrives (SSH_EV_CHANNEL_CLOSE). On a
 * channel not yet confirmed it sends OPEN_FAILURE instead (the client doesn't know the channel
 * yet), and the next ssh_next_event reports SSH_EV_CHANNEL_CLOSE for it. */
void ssh_channel_close(struct ssh *s, struct ssh_channel *ch);

/* Answers the oldest unanswered CHANNEL_REQUEST that had want_reply with CHANNEL_SUCCESS (ok)
 * or CHANNEL_FAILURE. The peer matches answers to requests by order only (RFC 4254 §5.4):
 * answer every such event, in the order of the events. No-op when no answer is owed; nothing
 * is sent once either side closed the channel. */
void ssh_channel_request_reply(struct ssh *s, struct ssh_channel *ch, bool ok);
/* Sends CHANNEL_REQUEST name with want_reply false, data as the request-specific bytes (e.g.
 * "exit-status" with a uint32). Allowed after our EOF; dropped once either side closed. */
void ssh_channel_send_request(struct ssh *s, struct ssh_channel *ch, const char *name,
			      const uint8_t *data, size_t len);
/* CHANNEL_EXTENDED_DATA of type code (1: stderr): copies up to len bytes within the send space
 * (ssh_channel_send_space) and the peer's max packet; returns how many were taken. */
#define SSH_EXTENDED_DATA_STDERR 1
size_t ssh_channel_write_ext(struct ssh *s, struct ssh_channel *ch, uint32_t code, const void *data,
			     size_t len);

/* Banner we send, e.g. "SSH-2.0-alknet_0.1.0". */
const char *ssh_version_string(void);

#endif
