/* The SSH engine after the key exchange: the unit tests' SSH client (tests/unit/sshtest_client.h)
 * runs a real curve25519 key exchange with the engine (and, if asked, a signed publickey login),
 * then seals the fuzzer's messages with the negotiated cipher, so the fuzz reaches the
 * encrypted-packet paths, SERVICE_REQUEST, USERAUTH_REQUEST and the whole connection protocol
 * (channel open/data/EOF/close, window adjust, global and channel requests), plus re-keys
 * started by either side in the middle of all that.
 *
 * The client also checks the engine's output: every packet it sends must decrypt and
 * authenticate, have legal padding and length, and nothing but transport/kex messages may be
 * sent between the server's KEXINIT and its NEWKEYS; the host key must be the one asked for and
 * its signature must verify; strict KEX and EXT_INFO must follow their rules. A failure of any
 * of these is reported as a crash. Only after the fuzzer sent a key exchange method message of
 * its own (30..49, e.g. KEX_ECDH_INIT), whose keys the client can't know, are the client's
 * complaints no longer a finding: from then on the engine's output is consumed unchecked (the
 * engine refuses such a message outside a key exchange, and between records none is running,
 * so this has not been seen to happen).
 *
 * Input: one flags byte, then records.
 *   flags bits 0-2  cipher: chacha20-poly1305, aes128-gcm, aes256-gcm,
 *                   aes128-ctr+hmac-sha2-256-etm, aes256-ctr+hmac-sha2-512-etm,
 *                   aes128-ctr+hmac-sha2-512-etm, aes192-ctr+hmac-sha2-256 and
 *                   aes256-ctr+hmac-sha2-512 (encrypt-and-MAC, which the server is
 *                   configured to allow)
 *         bits 3-4  host key algorithm: ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-512,
 *                   rsa-sha2-256
 *         bit 5     log in (SERVICE_REQUEST + signed publickey request) before the records
 *         bit 6     don't offer strict KEX
 *         bit 7     server re-keys after every 1 KiB (rekey_bytes)
 *   record: u16 big-endian length, then that many payload bytes, sent as one sealed packet
 *           (payload[0] is the message number; a zero length sends an empty packet). Lengths:
 *           0xFFFF  the client starts a re-key;   0xFFFE  ssh_rekey() (the server starts one)
 *           0xFFFD  u16 n, then n bytes fed unsealed (garbage on the encrypted stream)
 * Engine events are answered from their content: auth accepted when the user name starts
 * with 'a' (the signature checked first, as a host does), deferred with 'd', accepted
 * without ssh_auth_verify with 'u' (which must never log in), direct-tcpip opens confirmed
 * when the port is odd (policy_check permitting), received data echoed back and consumed,
 * EOF answered with EOF and CLOSE; session opens without extra bytes confirmed, their "shell"
 * and "exec" requests granted (exec then finished with stderr, exit-status, EOF and CLOSE),
 * every other channel request refused. */
#include <stdbool.h>

#include "channel_direct_tcpip.h"
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "policy.h"
#include "ssh/buf.h"
#include "ssh/ssh.h"
#include "sshtest_client.h"

#define CLIENT_BANNER "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
#define CLIENT_USER   "alice"

/* One run: the engine, the test client talking to it, and the answers the harness gives the
 * engine later, like a server waiting on a connect. */
struct fz {
	struct ssh *s;
	struct tc c;
	bool setup;	    /* true until the fuzzer's records start */
	bool closed;	    /* DISCONNECT event seen */
	bool foreign_kex;   /* the fuzzer sent a kex method message of its own */
	bool lost;	    /* ... and the client can no longer follow the engine's output */
	unsigned seen[256]; /* non-transport messages the client received from the engine */
	struct ssh_channel *pending[8];
	bool auth_deferred;
};

static struct ssh_key *host_keys[3];
static struct ssh_key *client_key;
static struct ssh_crypto *crypto; /* one for the process, as a server has one per loop */

static const struct {
	const char *cipher;
	const char *mac;
} algs[] = {
	{"chacha20-poly1305@openssh.com", NULL},
	{"aes128-gcm@openssh.com", NULL},
	{"aes256-gcm@openssh.com", NULL},
	{"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
	{"aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
	{"aes128-ctr", "hmac-sha2-512-etm@openssh.com"},
	{"aes192-ctr", "hmac-sha2-256"},
	{"aes256-ctr", "hmac-sha2-512"},
};

static const char *const hk_algs[] = {"ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512",
				      "rsa-sha2-256"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	host_keys[0] = fuzz_load_key(fuzz_host_ed25519);
	host_keys[1] = fuzz_load_key(fuzz_host_ecdsa256);
	host_keys[2] = fuzz_load_key(fuzz_host_rsa1024);
	client_key = fuzz_load_key(fuzz_client_ed25519);
	crypto = ssh_crypto_new();
	return 0;
}

/* ---- engine events ---- */

static bool defer_channel(struct fz *f, struct ssh_channel *ch)
{
	for (size_t i = 0; i < 8; i++) {
		if (f->pending[i] == NULL) {
			f->pending[i] = ch;
			return true;
		}
	}
	return false;
}

/* The answers held back by on_event, given now (the engine accepts them at any time). */
static void answer_deferred(struct fz *f)
{
	if (f->auth_deferred) {
		f->auth_deferred = false;
		ssh_auth_verify(f->s); /* false for a query: accept then sends PK_OK */
		ssh_auth_accept(f->s);
	}
	for (size_t i = 0; i < 8; i++) {
		if (f->pending[i]) {
			ssh_channel_confirm(f->s, f->pending[i]);
			f->pending[i] = NULL;
		}
	}
}

/* CHANNEL_OPEN: the test src/channel.c makes, which must agree with what the engine parsed
 * (a type "direct-tcpip\0..." once read as direct-tcpip here with host NULL; seed
 * corpus/fuzz_ssh_session/chan-type-embedded-nul). */
static void on_channel_open(struct fz *f, struct ssh_event *ev)
{
	bool direct = strcmp(ev->chan_type, "direct-tcpip") == 0;
	struct tcpip_open req;

	FUZZ_CHECK(ev->type_len == 0 || ev->type_data != NULL);
	if (strcmp(ev->chan_type, "session") == 0 && ev->type_len == 0) {
		ssh_channel_set_user(ev->ch, f);
		ssh_channel_confirm(f->s, ev->ch);
		return;
	}
	if (direct && tcpip_parse_open(ev->type_data, ev->type_len, &req) == 0 &&
	    req.port % 2 == 1 && policy_check(req.host, req.host_len, req.port) == POLICY_ALLOW) {
		ssh_channel_set_user(ev->ch, f);
		FUZZ_CHECK(ssh_channel_user(ev->ch) == f);
		if (req.port % 4 == 3 && defer_channel(f, ev->ch))
			return; /* confirmed before the next record */
		ssh_channel_confirm(f->s, ev->ch);
		return;
	}
	ssh_channel_refuse(f->s, ev->ch,
			   direct ? SSH_OPEN_CONNECT_FAILED : SSH_OPEN_UNKNOWN_CHANNEL_TYPE,
			   "refused");
}

/* CHANNEL_REQUEST: answered in order, like channel_session.c: "shell" granted, "exec" granted
 * and then finished (stderr, exit-status, EOF, CLOSE), anything else refused. */
static void on_channel_request(struct fz *f, struct ssh_event *ev)
{
	struct ssh *s = f->s;

	FUZZ_CHECK(ev->ch != NULL && ev->name != NULL && strlen(ev->name) <= 64);
	FUZZ_CHECK(ev->type_len == 0 || ev->type_data != NULL);
	bool shell = strcmp(ev->name, "shell") == 0;
	bool exec = strcmp(ev->name, "exec") == 0;
	if (ev->want_reply)
		ssh_channel_request_reply(s, ev->ch, shell || exec);
	if (shell)
		ssh_channel_write(s, ev->ch, "hi\r\n", 4);
	if (exec) {
		ssh_channel_write_ext(s, ev->ch, 1, "no\n", 3);
		ssh_channel_send_request(s, ev->ch, "exit-status", (const uint8_t *)"\0\0\0\1", 4);
		ssh_channel_send_eof(s, ev->ch);
		ssh_channel_close(s, ev->ch);
	}
}

static void on_event(struct fz *f, struct ssh_event *ev)
{
	struct ssh *s = f->s;

	switch (ev->type) {
	case SSH_EV_AUTH_REQUEST:
		FUZZ_CHECK(ev->user != NULL && ev->key != NULL && ev->method != NULL);
		if (f->setup)
			FUZZ_CHECK(ev->has_sig && ssh_auth_verify(s));
		if (!ev->has_sig)
			FUZZ_CHECK(!ssh_auth_verify(s)); /* a query has nothing to verify */
		if (ev->user[0] == 'd') {
			f->auth_deferred = true; /* answered before the next record */
		} else if (ev->user[0] == 'a') {
			/* The host's order (ssh.h): the key is "known", so check, then answer. */
			if (!ev->has_sig || ssh_auth_verify(s))
				ssh_auth_accept(s);
			else
				ssh_auth_reject(s);
		} else if (ev->user[0] == 'u') {
			/* Accepted without the check: a signed request must not log in. */
			bool sig = ev->has_sig;
			ssh_auth_accept(s);
			FUZZ_CHECK(!sig || !ssh_authenticated(s));
		} else {
			ssh_auth_reject(s);
		}
		break;
	case SSH_EV_AUTH_REFUSED:
		FUZZ_CHECK(ev->user != NULL && ev->method != NULL && ev->text != NULL);
		FUZZ_CHECK(!ssh_authenticated(s));
		break;
	case SSH_EV_CHANNEL_OPEN:
		FUZZ_CHECK(ev->ch != NULL && ev->chan_type != NULL);
		FUZZ_CHECK(ssh_authenticated(s));
		on_channel_open(f, ev);
		break;
	case SSH_EV_CHANNEL_DATA:
		FUZZ_CHECK(ev->ch != NULL && ev->len > 0 && ev->data != NULL);
		FUZZ_CHECK(ssh_channel_user(ev->ch) == f);
		/* Echo what fits (like a relay whose target answers at once), then hand the
		 * window back for what was taken. */
		ssh_channel_write(s, ev->ch, ev->data, ev->len);
		ssh_channel_consumed(s, ev->ch, ev->len);
		break;
	case SSH_EV_CHANNEL_EOF:
		ssh_channel_send_eof(s, ev->ch);
		ssh_channel_close(s, ev->ch);
		break;
	case SSH_EV_CHANNEL_WINDOW: {
		static const uint8_t more[64];
		ssh_channel_write(s, ev->ch, more, sizeof(more));
		break;
	}
	case SSH_EV_CHANNEL_CLOSE:
		FUZZ_CHECK(ev->ch != NULL);
		for (size_t i = 0; i < 8; i++) {
			if (f->pending[i] == ev->ch)
				f->pending[i] = NULL; /* gone: never answer it */
		}
		break;
	case SSH_EV_GLOBAL_REQUEST:
		FUZZ_CHECK(ev->name != NULL);
		break;
	case SSH_EV_CHANNEL_REQUEST:
		on_channel_request(f, ev);
		break;
	case SSH_EV_DISCONNECT:
		FUZZ_CHECK(ev->text != NULL && ssh_closed(s));
		f->closed = true;
		break;
	default:
		break;
	}
}

/* ---- moving bytes ---- */

/* Hands the engine's output to the client, which parses and checks every packet in it (and
 * answers key exchanges the engine starts). A complaint from the client is a finding, unless
 * the fuzzer's own key exchange messages explain it. Returns true if bytes moved. */
static bool engine_to_client(struct fz *f)
{
	size_t n;
	const uint8_t *out = ssh_out_data(f->s, &n);
	struct sbuf m;

	if (n == 0)
		return false;
	if (!f->lost && tc_input(&f->c, out, n) != 0) {
		if (!f->foreign_kex) {
			fprintf(stderr, "fuzz: the test client rejects the engine's output: %s\n",
				f->c.err);
			abort();
		}
		f->lost = true;
	}
	ssh_out_consume(f->s, n);
	FUZZ_CHECK(f->lost || f->c.conn_in_kex == 0);
	while (tc_pop(&f->c, &m)) {
		f->seen[m.data[0]]++;
		sbuf_free(&m);
	}
	return true;
}

/* Runs both sides until neither has anything more to say: the client's bytes fed to the
 * engine, the engine's events answered, its output read by the client. */
static void pump(struct fz *f)
{
	struct ssh_event ev;
	int guard = 0;

	for (;;) {
		bool any = false;
		if (f->c.out.len > 0) {
			ssh_feed(f->s, f->c.out.data, f->c.out.len);
			tc_out_consume(&f->c, f->c.out.len);
			any = true;
		}
		while (ssh_next_event(f->s, &ev)) {
			on_event(f, &ev);
			any = true;
			FUZZ_CHECK(++guard < 100000);
		}
		any |= engine_to_client(f);
		if (!any)
			break;
	}
}

/* ---- set-up ---- */

/* SERVICE_REQUEST and a publickey request signed with client_key (RFC 4252 §7). */
static void client_login(struct fz *f)
{
	tc_service_request(&f->c, "ssh-userauth");
	pump(f);
	FUZZ_CHECK(f->seen[TC_SERVICE_ACCEPT] == 1);
	tc_auth_signed(&f->c, CLIENT_USER, client_key, NULL);
	pump(f);
	FUZZ_CHECK(ssh_authenticated(f->s) && f->seen[TC_USERAUTH_SUCCESS] == 1);
}

/* The engine with the fuzzer's settings, and a completed first key exchange (and login). */
static void fz_start(struct fz *f, uint8_t flags)
{
	struct ssh_config cfg = {.host_keys = host_keys,
				 .n_host_keys = 3,
				 .crypto = crypto,
				 .macs = ssh_alg_supported(SSH_ALG_MAC)};
	size_t a = (flags & 7) % (sizeof(algs) / sizeof(algs[0]));
	size_t hk = (flags >> 3) & 3;
	struct tc_opts o = {
		.version = CLIENT_BANNER,
		.kex = (flags & 0x40) ? TC_KEX_NOSTRICT : TC_KEX_DEFAULT,
		.hostkey = hk_algs[hk],
		.enc_c2s = algs[a].cipher,
		.enc_s2c = algs[a].cipher,
		.mac_c2s = algs[a].mac ? algs[a].mac : "hmac-sha2-256-etm@openssh.com",
		.mac_s2c = algs[a].mac ? algs[a].mac : "hmac-sha2-256-etm@openssh.com",
	};

	if (flags & 0x80)
		cfg.rekey_bytes = 1024;
	/* Small windows and packets so the fuzzer reaches their limits. */
	cfg.window = 4096;
	cfg.max_packet = 1024;
	cfg.out_limit = 8192;
	cfg.max_channels = 8;
	f->s = ssh_new(&cfg);
	tc_init(&f->c, &o, host_keys[hk >= 2 ? 2 : hk]); /* 2, 3: the RSA key */
	f->setup = true;
	tc_start(&f->c);
	pump(f);
	FUZZ_CHECK(!ssh_closed(f->s) && f->c.kex_count == 1);
	FUZZ_CHECK(strcmp(f->c.server_version, ssh_version_string()) == 0);
	FUZZ_CHECK(f->c.strict == !(flags & 0x40));
	FUZZ_CHECK(strcmp(f->c.enc[0]->name, algs[a].cipher) == 0);
	if (flags & 0x20)
		client_login(f);
	f->setup = false;
}

/* ---- the fuzzer's records ---- */

static size_t take_u16(const uint8_t **p, size_t *left)
{
	if (*left < 2) {
		*left = 0;
		return 0;
	}
	size_t v = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	return v;
}

static void run_records(struct fz *f, const uint8_t *p, size_t left)
{
	while (left > 0 && !f->closed) {
		answer_deferred(f);
		size_t len = take_u16(&p, &left);
		if (left == 0 && len != 0xFFFF && len != 0xFFFE)
			break;
		if (len == 0xFFFF) {
			if (!f->lost)
				tc_rekey(&f->c);
		} else if (len == 0xFFFE) {
			ssh_rekey(f->s);
		} else if (len == 0xFFFD) {
			size_t n = take_u16(&p, &left);
			n = n < left ? n : left;
			ssh_feed(f->s, p, n); /* c.out is empty between records */
			p += n;
			left -= n;
		} else {
			len = len < left ? len : left;
			if (len > 0 && p[0] >= TC_ECDH_INIT && p[0] < TC_USERAUTH_REQUEST)
				f->foreign_kex = true;
			tc_send_now(&f->c, p, len);
			p += len;
			left -= len;
		}
		pump(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {0};

	if (size < 1)
		return 0;
	fz_start(&f, data[0]);
	run_records(&f, data + 1, size - 1);
	answer_deferred(&f);
	pump(&f);
	ssh_free(f.s);
	tc_free(&f.c);
	return 0;
}
