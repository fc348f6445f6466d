/* Engine internals shared by transport.c, kex.c, userauth.c and conn.c. Not for callers
 * outside src/ssh/. */
#ifndef ALKNET_SSH_INTERNAL_H
#define ALKNET_SSH_INTERNAL_H

#include <openssl/types.h>

#include "buf.h"
#include "ssh.h"

enum ssh_msg {
	MSG_DISCONNECT = 1,
	MSG_IGNORE = 2,
	MSG_UNIMPLEMENTED = 3,
	MSG_DEBUG = 4,
	MSG_SERVICE_REQUEST = 5,
	MSG_SERVICE_ACCEPT = 6,
	MSG_EXT_INFO = 7,
	MSG_KEXINIT = 20,
	MSG_NEWKEYS = 21,
	MSG_KEX_ECDH_INIT = 30,
	MSG_KEX_ECDH_REPLY = 31,
	MSG_USERAUTH_REQUEST = 50,
	MSG_USERAUTH_FAILURE = 51,
	MSG_USERAUTH_SUCCESS = 52,
	MSG_USERAUTH_BANNER = 53,
	MSG_USERAUTH_PK_OK = 60,
	MSG_GLOBAL_REQUEST = 80,
	MSG_REQUEST_SUCCESS = 81,
	MSG_REQUEST_FAILURE = 82,
	MSG_CHANNEL_OPEN = 90,
	MSG_CHANNEL_OPEN_CONFIRMATION = 91,
	MSG_CHANNEL_OPEN_FAILURE = 92,
	MSG_CHANNEL_WINDOW_ADJUST = 93,
	MSG_CHANNEL_DATA = 94,
	MSG_CHANNEL_EXTENDED_DATA = 95,
	MSG_CHANNEL_EOF = 96,
	MSG_CHANNEL_CLOSE = 97,
	MSG_CHANNEL_REQUEST = 98,
	MSG_CHANNEL_SUCCESS = 99,
	MSG_CHANNEL_FAILURE = 100,
};

enum ssh_state {
	ST_VERSION = 0, /* waiting for the client's identification line */
	ST_KEX = 1,	/* first key exchange */
	ST_SERVICE = 2, /* waiting for SERVICE_REQUEST "ssh-userauth" */
	ST_USERAUTH = 3,
	ST_CONNECTED = 4,
	ST_CLOSED = 5,
};

/* Sizes: RFC 4253 §6.1 asks for 35000-byte packets; before authentication we allow less. */
#define SSH_MAX_PACKET_PREAUTH (64 * 1024)
#define SSH_MAX_PACKET	       (256 * 1024)
#define SSH_MAX_VERSION_LINE   255
#define SSH_IN_CHUNK	       (64 * 1024)
#define SSH_DEFERRED_LIMIT     (256 * 1024)
/* Packets a client may send before it is authenticated, the key exchange's included (3 for
 * the first one): a login takes about 10 (paramiko asks for the service before each of its
 * attempts), and the host disconnects after --max-auth-attempts failures anyway. This bounds
 * what an unauthenticated client can make us do: IGNOREs, UNIMPLEMENTED-earning unknown
 * messages, SERVICE_REQUESTs, re-keys (an X25519 and a host key signature each). */
#define SSH_MAX_PREAUTH_MESSAGES 64

struct kex;
struct pkt_cipher;

struct ssh_channel {
	uint32_t local_id;
	uint32_t remote_id;
	bool confirmed;
	bool eof_sent, eof_rcvd, close_sent, close_rcvd;
	bool window_blocked;   /* send_space hit a shut window: report the next WINDOW_ADJUST */
	uint32_t local_window; /* what the peer may still send us */
	uint32_t consumed;     /* passed on by the caller, not yet granted back */
	uint32_t remote_window;
	uint32_t remote_maxpacket;
	uint32_t replies_owed; /* CHANNEL_REQUESTs with want_reply the host has not answered */
	size_t data_off;       /* ssh_channel_data_reserve: where its packets start in out */
	void *user;
};

struct ssh {
	struct ssh_config cfg;
	enum ssh_state state;

	/* input: raw bytes in in.data[in_off..in.len) */
	struct sbuf in;
	size_t in_off;
	bool in_pinned;	 /* ssh_in_pin(): keep s->in where it is */
	uint32_t rx_len; /* peeked packet length of the packet at in_off, 0 if not yet */
	uint32_t rx_seq;
	uint64_t rx_packets;
	struct pkt_cipher *rx;

	/* output: encrypted bytes in out.data[out_off..out.len) */
	struct sbuf out;
	size_t out_off;
	uint32_t tx_seq;
	bool tx_exhausted; /* tx_seq wrapped where it may not: nothing more is sent */
	struct pkt_cipher *tx;
	struct sbuf deferred; /* payloads held back while our KEXINIT is outstanding */
	struct sbuf *pkt_buf; /* where the packet under construction lives */
	size_t pkt_start;
	uint64_t kex_bytes; /* since the last key exchange, both ways */

	/* key exchange */
	struct kex *kex; /* only while one runs */
	char *client_version;
	uint8_t session_id[64];
	size_t session_id_len;
	bool strict_kex;
	bool ext_info_c;
	bool ignore_next_kex_packet; /* wrong first_kex_packet_follows guess */

	/* user auth: the pending request. A signed one keeps what its signature covers
	 * (string session_id, then the request up to the signature) followed by the signature,
	 * both bounded by the packet size, until ssh_auth_verify() checks them once. */
	bool auth_pending;
	bool auth_has_sig;
	bool auth_checked; /* ssh_auth_verify() ran for this request ... */
	bool auth_sig_ok;  /* ... and the signature verified */
	char *auth_user;
	char *auth_alg;
	struct ssh_key *auth_key;   /* a plain key's; NULL for a certificate */
	struct ssh_cert *auth_cert; /* a certificate's (its key signs the request) */
	struct sbuf auth_signed;    /* signed data in [0, auth_sig_off), the signature after */
	size_t auth_sig_off;
	uint32_t auth_requests; /* USERAUTH_REQUESTs so far */
	struct sbuf auth_who;	/* string user, string service of the first: they may not change */

	/* connection */
	struct ssh_channel **chans;
	uint32_t n_chans; /* slots in chans */
	uint32_t open_chans;
	struct ssh_channel *dead_chan; /* freed at the next engine call */
	uint32_t unopened_closes;      /* closed before confirmed, CLOSE event not yet reported */

	/* event strings */
	struct sbuf scratch;
	struct sbuf discard; /* packets built after the session ended go here */
	uint64_t pad_state;  /* cheap generator for encrypted padding (transport_seal_at) */

	/* end of session */
	uint32_t disc_reason;
	char disc_text[96];
	bool disc_peer;
	bool disc_reported;
};

/* transport.c */
struct sbuf *pkt_begin(struct ssh *s, uint8_t msg);
void pkt_end(struct ssh *s);
void ssh_fail(struct ssh *s, uint32_t reason, const char *text);

void transport_flush_deferred(struct ssh *s);
void send_unimplemented(struct ssh *s);
size_t transport_packet_size(const struct ssh *s, size_t payload);
size_t transport_seal_at(struct ssh *s, size_t start, size_t payload);
/* Copies a string into the event scratch area and returns it NUL-terminated. */
const char *scratch_str(struct ssh *s, const uint8_t *p, size_t n);

/* algs.c: the session's list of kind (configured, else the default); true if name (len
 * bytes, length-delimited) is one of the comma-separated names in list. */
const char *ssh_alg_list(const struct ssh *s, enum ssh_alg_kind kind);
bool alg_list_has(const char *list, const uint8_t *name, size_t len);

/* kex.c */
void kex_send_kexinit(struct ssh *s);
void kex_recv_kexinit(struct ssh *s, const uint8_t *p, size_t n);
void kex_recv_ecdh_init(struct ssh *s, const uint8_t *p, size_t n);
/* Returns true when this NEWKEYS (n bytes of payload) finished a key exchange. */
bool kex_recv_newkeys(struct ssh *s, size_t n);
bool kex_peer_in_kex(const struct ssh *s);
/* True between sending our KEXINIT and our NEWKEYS: only kex messages may be sent. */
bool kex_tx_blocked(const struct ssh *s);
bool kex_running(const struct ssh *s);
void kex_free(struct kex *k);

/* userauth.c */
void userauth_recv_service_request(struct ssh *s, const uint8_t *p, size_t n);
bool userauth_recv_request(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev);
/* Frees the pending request and what the first request fixed. */
void userauth_free(struct ssh *s);

/* conn.c */
bool conn_dispatch(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev);
void conn_free_all(struct ssh *s);
void conn_reap(struct ssh *s);
/* After a key exchange: sends the window adjustments held back during it. */
void conn_after_kex(struct ssh *s);
/* The CHANNEL_CLOSE event of a channel closed before it was confirmed, if there is one
 * (ssh_channel_close). */
bool conn_report_unopened(struct ssh *s, struct ssh_event *ev);

/* key.c: an Ed25519 (x25519 false) or X25519 public key from 32 raw bytes, or NULL; cr is
 * the session's ssh_config.crypto (NULL: an uncached context). */
EVP_PKEY *key_raw_public(struct ssh_crypto *cr, bool x25519, const uint8_t *p, size_t n);
/* key.c: a client's public key from its USERAUTH_REQUEST blob: ssh_key_from_blob with the
 * session's libcrypto cache (NULL allowed), and stricter: RSA needs at least 2048 bits. */
int key_from_blob(struct ssh_crypto *cr, const uint8_t *blob, size_t len, struct ssh_key **out);
/* key_cert.c: ssh_cert_parse with the session's libcrypto cache (NULL allowed). */
struct ssh_cert;
int key_cert_parse(struct ssh_crypto *cr, const uint8_t *blob, size_t len, struct ssh_cert **out,
		   char *err, size_t errlen);

#endif
