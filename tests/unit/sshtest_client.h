/* A minimal SSH-2 *client* for driving the server engine in tests, entirely in memory.
 * Test-only: sshtest_client.c and sshtest_msgs.c are built once and linked into the unit tests
 * (Makefile, UNIT_HELPERS) and into the session fuzzer (tests/fuzz/run.sh).
 *
 * It speaks just enough of the protocol to exercise src/ssh/: every key exchange method the
 * engine has (client halves in sshtest_kex.c) with an ssh-ed25519 host key, the engine's own
 * ciphers (src/ssh/cipher.c) for packet protection, strict KEX, ext-info, re-keying started by
 * either side, and publickey auth signed with src/ssh/key.c. Key exchange and transport messages
 * are handled as they arrive; everything else is queued for the test to pop and inspect. The client
 * obeys RFC 4253 §7.1 (no connection-layer messages between its KEXINIT and its NEWKEYS; they are
 * held back and sent after) unless told to misbehave through tc_send_now/tc_send_raw.
 *
 * Names start with tc_ ("test client"). Bytes for the server accumulate in c->out; the test
 * moves them (ssh_feed) and consumes them with tc_out_consume. */
#ifndef ALKNET_SSHTEST_CLIENT_H
#define ALKNET_SSHTEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ssh/buf.h"
#include "ssh/cipher.h"
#include "ssh/key.h"

#define TC_KEX_DEFAULT	"curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com"
#define TC_KEX_NOSTRICT "curve25519-sha256,ext-info-c"
#define TC_ENC_DEFAULT                                                                             \
	"chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,"             \
	"aes128-ctr,aes192-ctr,aes256-ctr"
#define TC_MAC_DEFAULT "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com"

/* Message numbers the client sends or handles itself (RFC 4250 §4.1). */
enum tc_msgno {
	TC_DISCONNECT = 1,
	TC_IGNORE = 2,
	TC_UNIMPLEMENTED = 3,
	TC_DEBUG = 4,
	TC_SERVICE_REQUEST = 5,
	TC_SERVICE_ACCEPT = 6,
	TC_EXT_INFO = 7,
	TC_KEXINIT = 20,
	TC_NEWKEYS = 21,
	TC_ECDH_INIT = 30,
	TC_ECDH_REPLY = 31,
	TC_USERAUTH_REQUEST = 50,
	TC_USERAUTH_SUCCESS = 52,
	TC_GLOBAL_REQUEST = 80,
	TC_CHANNEL_OPEN = 90,
	TC_CHANNEL_WINDOW_ADJUST = 93,
	TC_CHANNEL_DATA = 94,
	TC_CHANNEL_EXTENDED_DATA = 95,
	TC_CHANNEL_EOF = 96,
	TC_CHANNEL_CLOSE = 97,
	TC_CHANNEL_REQUEST = 98,
};

struct tc_opts {
	const char *version; /* identification line without CR LF (default SSH-2.0-sshtest_1) */
	const char *eol;     /* line end after it (default "\r\n") */
	const char *kex;     /* kex_algorithms (default TC_KEX_DEFAULT) */
	const char *hostkey; /* server_host_key_algorithms (default "ssh-ed25519") */
	const char *enc_c2s, *enc_s2c; /* default TC_ENC_DEFAULT */
	const char *mac_c2s, *mac_s2c; /* default TC_MAC_DEFAULT */
	const char *comp;	       /* both compression lists (default "none") */
	bool no_seq_reset;  /* misbehave: keep counting outgoing sequence numbers at NEWKEYS */
	bool guess_follows; /* set first_kex_packet_follows and send an ECDH_INIT right away */
	bool guess_garbage; /* ... and make that guessed packet garbage (for a wrong guess) */
};

/* One received message (payload, starting with the message number). */
struct tc_msg {
	struct tc_msg *next;
	size_t len;
	uint8_t data[];
};

struct tc {
	struct tc_opts o;
	const struct ssh_key *expect_hostkey; /* borrowed; NULL accepts any */

	struct sbuf out; /* bytes for the server */
	struct sbuf in;	 /* bytes from the server not yet parsed */
	bool version_done;
	char server_version[256];
	char client_version[300];
	struct pkt_cipher *tx, *rx, *next_rx;
	uint32_t tx_seq, rx_seq;
	uint32_t rx_len; /* length of the packet being received, once peeked; 0: not yet */
	uint64_t tx_bytes, rx_bytes; /* payload bytes since the last completed key exchange */

	/* key exchange */
	bool strict;	  /* both sides signalled strict KEX in the first KEXINITs */
	bool in_kex;	  /* our KEXINIT sent, our NEWKEYS not yet */
	bool peer_in_kex; /* their KEXINIT received, their NEWKEYS not yet */
	bool ecdh_sent;
	struct sbuf i_c, i_s;
	char kex_alg[64];   /* the negotiated method */
	struct tc_kex *kx;  /* its client state while it runs (sshtest_kex.c) */
	struct sbuf c_init; /* what we sent in KEX_ECDH_INIT */
	char hostkey_alg[64];
	const struct cipher_info *enc[2]; /* [0] client to server, [1] server to client */
	const struct mac_info *mac[2];
	uint8_t session_id[64];
	size_t session_id_len;
	bool have_session_id;
	int kex_count;	  /* key exchanges completed (the server's NEWKEYS received) */
	int kexinit_rcvd; /* KEXINITs received from the server */
	uint64_t rx_packets;
	struct sbuf deferred; /* our payloads held back while in_kex */

	int ext_info; /* EXT_INFO messages received */
	char server_sig_algs[256];

	struct tc_msg *q_head, *q_tail; /* non-transport messages, oldest first */
	int conn_in_kex; /* non-kex messages received between the server's KEXINIT and
			  * NEWKEYS: the engine must send none */
	char err[200];	 /* the first problem seen, "" if none */
	bool dead;	 /* a packet could not be read: no more input is parsed */
};

void tc_init(struct tc *c, const struct tc_opts *o, const struct ssh_key *expect_hostkey);
void tc_free(struct tc *c);

/* Queues the identification line and our first KEXINIT. */
void tc_start(struct tc *c);
/* Just the identification line; tc_rekey then sends the first KEXINIT. */
void tc_send_version(struct tc *c);
/* Sends KEXINIT unless one is outstanding: a client-initiated re-key (or the first KEXINIT
 * after tc_send_version). */
void tc_rekey(struct tc *c);

/* Bytes from the server; processes every whole packet. Returns 0, or -1 once c->err is set
 * (parsing goes on after a protocol complaint, so a DISCONNECT that follows is still seen;
 * it stops for good at a packet that can't be read, e.g. a bad MAC). */
int tc_input(struct tc *c, const uint8_t *p, size_t n);
void tc_out_consume(struct tc *c, size_t n);

/* Sends a payload (held back while in_kex if it is not a transport message). */
void tc_send(struct tc *c, const uint8_t *payload, size_t n);
void tc_send_sbuf(struct tc *c, struct sbuf *payload); /* sends and frees */
/* Sends now even during our key exchange (to test the server's rules). */
void tc_send_now(struct tc *c, const uint8_t *payload, size_t n);
/* Sends a packet with a chosen length field and body ([padlen][payload][padding]); the body
 * is sealed as is. For malformed-packet tests. */
void tc_send_raw(struct tc *c, uint32_t len_field, const uint8_t *body, size_t bodylen);
/* The padding length tc_send would use for an n-byte payload. */
size_t tc_padlen(const struct tc *c, size_t n);

/* Pops the oldest queued message into *m (caller frees with sbuf_free). false if none. */
bool tc_pop(struct tc *c, struct sbuf *m);
size_t tc_queued(const struct tc *c);

/* Records a problem in c->err unless one is there already (the first one is kept). */
void tc_fail(struct tc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the n big-endian bytes at k as an SSH mpint (leading zeros dropped). */
void tc_put_mpint(struct sbuf *b, const uint8_t *k, size_t n);

/* Key exchange methods, the client side (sshtest_kex.c). tc_kex_known: the client has the
 * method called name. tc_kex_md: its hash. tc_kex_start makes the client's state and puts
 * C_INIT's bytes in c_init (0 or -1); tc_kex_finish takes S_REPLY's bytes and appends K in
 * the method's encoding (an mpint, or a string for the post-quantum hybrids) to k (0, or -1
 * for a reply the client can't use). */
struct tc_kex;
bool tc_kex_known(const char *name);
const EVP_MD *tc_kex_md(const char *name);
int tc_kex_start(const char *name, struct tc_kex **kx, struct sbuf *c_init);
int tc_kex_finish(struct tc_kex *kx, const uint8_t *s_reply, size_t n, struct sbuf *k);
void tc_kex_free(struct tc_kex *kx);

/* Message builders (RFC 4252/4254), in sshtest_msgs.c. */
void tc_service_request(struct tc *c, const char *name);
void tc_auth_none(struct tc *c, const char *user);
void tc_auth_password(struct tc *c, const char *user, const char *password);
void tc_auth_query(struct tc *c, const char *user, const struct ssh_key *k, const char *alg);
/* Signs with k (alg NULL: the key's default). */
void tc_auth_signed(struct tc *c, const char *user, const struct ssh_key *k, const char *alg);
/* The bytes a publickey signature covers: string session_id || the request up to the
 * signature (RFC 4252 §7). */
void tc_auth_sign_data(struct tc *c, struct sbuf *out, const char *user, const char *alg,
		       const uint8_t *blob, size_t bloblen);
void tc_global_request(struct tc *c, const char *name, bool want_reply);
void tc_open_direct(struct tc *c, uint32_t sender, uint32_t window, uint32_t maxpacket,
		    const char *host, uint32_t port, const char *orig, uint32_t orig_port);
void tc_open_type(struct tc *c, const char *type, uint32_t sender, uint32_t window,
		  uint32_t maxpacket);
void tc_data(struct tc *c, uint32_t recipient, const void *p, size_t n);
void tc_ext_data(struct tc *c, uint32_t recipient, uint32_t code, const void *p, size_t n);
void tc_window_adjust(struct tc *c, uint32_t recipient, uint32_t n);
void tc_eof(struct tc *c, uint32_t recipient);
void tc_close(struct tc *c, uint32_t recipient);
void tc_channel_request(struct tc *c, uint32_t recipient, const char *name, bool want_reply);
/* The same with request-specific bytes after want_reply. */
void tc_channel_request_data(struct tc *c, uint32_t recipient, const char *name, bool want_reply,
			     const void *data, size_t len);
void tc_ignore(struct tc *c, size_t n); /* IGNORE with n bytes of data */
void tc_debug(struct tc *c);

/* Test keys: an ed25519 key from a 32-byte seed, through an OpenSSH private key text parsed by
 * ssh_key_parse_private (so it is deterministic and needs no files). */
struct ssh_key *tc_ed25519_key(const uint8_t seed[32]);

#endif
