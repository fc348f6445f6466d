/* The engine test harness shared by test_transport.c, test_kex.c, test_userauth.c and
 * test_conn.c: a "pair" is one engine (struct ssh) and one test client (sshtest_client.h) with
 * the caller's view in between. The test plays the engine's caller: it feeds bytes, answers
 * events (ssh_auth_accept, ssh_channel_confirm, ...; on_event in engine_pair.c does it by
 * default) and moves the engine's output to the client. A few checks look inside
 * (ssh/internal.h) where the public API can't tell.
 *
 * Test-only, linked into the tests through the Makefile's UNIT_HELPERS. The functions fail the
 * running cmocka test (fail_msg, assert_*) when something is off, so they return no errors. */
#ifndef ALKNET_TEST_ENGINE_PAIR_H
#define ALKNET_TEST_ENGINE_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh/buf.h"
#include "ssh/ssh.h"
#include "sshtest_client.h"

/* Message numbers the tests look for in what the client received. */
enum {
	M_DISCONNECT = 1,
	M_UNIMPLEMENTED = 3,
	M_SERVICE_ACCEPT = 6,
	M_USERAUTH_FAILURE = 51,
	M_USERAUTH_SUCCESS = 52,
	M_USERAUTH_PK_OK = 60,
	M_REQUEST_FAILURE = 82,
	M_OPEN_CONFIRMATION = 91,
	M_OPEN_FAILURE = 92,
	M_WINDOW_ADJUST = 93,
	M_DATA = 94,
	M_EXTENDED_DATA = 95,
	M_EOF = 96,
	M_CLOSE = 97,
	M_CHANNEL_REQUEST = 98,
	M_CHANNEL_SUCCESS = 99,
	M_CHANNEL_FAILURE = 100,
};

/* Made by pair_globals_init: the engine's host key, the user's key, and a key nobody
 * authorized; one libcrypto cache (ssh_crypto) that every pair's engine shares, as the
 * sessions of one server loop do. */
extern struct ssh_key *host_key, *user_key, *other_key;
extern struct ssh_crypto *crypto;
/* The engine's ciphers, in its order of preference. */
#define NCIPHERS 6
extern const char *const cipher_names[NCIPHERS];

struct xfer;

struct pair {
	struct ssh *s;
	struct tc c;
	struct ssh_config cfg;
	/* caller policy */
	bool auto_auth;	    /* accept every auth request */
	bool auto_open;	    /* confirm direct-tcpip opens, refuse others with reason 3 */
	bool auto_consume;  /* ssh_channel_consumed right after each data event */
	bool reply_on_eof;  /* on EOF: write "bye", send EOF, close */
	bool hold_requests; /* leave CHANNEL_REQUESTs unanswered (default: FAILURE if asked) */
	bool client_err_ok;
	/* what the caller saw */
	struct sbuf log;  /* one line per event */
	struct sbuf data; /* channel data */
	struct ssh_channel *ch;
	int kex_done, disconnects;
	uint32_t disc_reason;
	bool disc_peer;
	char disc_text[100];
	struct xfer *x;
};

/* Transfers both ways, for the cipher and re-key tests (xfer_open, then xfer_run). */
struct xfer {
	size_t total; /* bytes each way */
	size_t c2s_sent, c2s_rcvd, s2c_sent, s2c_rcvd;
	uint32_t c_window;   /* what the engine lets the client send */
	uint32_t c_granted;  /* what the client lets the engine send */
	uint32_t c_consumed; /* received by the client, not yet granted back */
	uint32_t c_win_size, c_maxpacket;
	size_t client_rekey_at, server_rekey_at; /* 0: never */
	size_t both_rekey_at; /* both sides send KEXINIT before either sees the other's */
	bool client_rekeyed, server_rekeyed;
	int blocked_seen; /* times our KEXINIT was outstanding when the caller asked */
	uint32_t chunk_seed;
};

/* Makes the keys and the libcrypto cache above (0, or -1 if a key can't be made), and frees
 * them after the tests. */
int pair_globals_init(void);
void pair_globals_free(void);

/* A new engine and client (o, cfg may be NULL: defaults). The engine gets host_key and the
 * shared crypto; the caller's default answers are on (auto_auth, auto_open, auto_consume). */
struct pair *pair_new(const struct tc_opts *o, const struct ssh_config *cfg);
void pair_free(struct pair *p);

/* Moving bytes. drain: answers every ready event. c2s_chunked: the client's output to the
 * engine, chunk bytes per ssh_feed (0: all at once), events answered after each chunk. s2c:
 * the engine's output to the client; returns how many bytes moved. run: both ways until
 * neither side has anything to say. feed: the client's pending bytes, events not answered. */
void drain(struct pair *p);
void c2s_chunked(struct pair *p, size_t chunk);
size_t s2c(struct pair *p);
void run(struct pair *p);
void feed(struct pair *p);
bool next(struct pair *p, struct ssh_event *ev);

/* Checks; each fails the test when it doesn't hold. expect_msg pops the client's next message,
 * which must be msg, leaving r after the message number (the caller frees m). expect_disconnect:
 * the engine disconnected with reason (event and message). expect_dead: more input changes
 * nothing. */
void expect_event(struct pair *p, struct ssh_event *ev, enum ssh_event_type type);
void expect_no_event(struct pair *p);
void expect_msg(struct pair *p, uint8_t msg, struct sbuf *m, struct sreader *r);
void expect_no_msg(struct pair *p);
void expect_str(struct sreader *r, const char *want);
void expect_disconnect(struct pair *p, uint32_t reason);
void expect_dead(struct pair *p);

/* Common sequences: the first key exchange; SERVICE_REQUEST and a signed login as alice with
 * user_key; SERVICE_REQUEST and its answer alone; a login once the service runs; a new pair with
 * both done (log cleared); the same with one cipher both ways; a confirmed direct-tcpip channel
 * (client id sender). */
void handshake(struct pair *p);
void authenticate(struct pair *p);
void service_accepted(struct pair *p);
void auth_signed_ok(struct pair *p);
struct pair *connected(const struct tc_opts *o, const struct ssh_config *cfg);
struct pair *connected_cipher(const char *cipher);
/* The same with mac both ways, the engine allowing every MAC it supports (the non-ETM ones
 * are not in its default). */
struct pair *connected_suite(const char *cipher, const char *mac);
struct ssh_channel *open_channel(struct pair *p, uint32_t sender, uint32_t window,
				 uint32_t maxpacket);

/* n bytes of the test pattern for direction dir (0: client to server) from offset off. */
void fill(int dir, size_t off, uint8_t *p, size_t n);

/* A channel for x (client id 7) with total bytes to move each way, then the transfer:
 * pseudo-random feed sizes, window and max-packet checks, re-keys as x asks. */
struct ssh_channel *xfer_open(struct pair *p, struct xfer *x, size_t total);
void xfer_run(struct pair *p, struct xfer *x, struct ssh_channel *ch);

#endif
