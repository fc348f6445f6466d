/* The engine test harness; see engine_pair.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_pair.h"
#include "ssh/internal.h"

struct ssh_key *host_key, *user_key, *other_key;
struct ssh_crypto *crypto; /* one per test program, as a server has one per loop */
const char *const cipher_names[NCIPHERS] = {
	"chacha20-poly1305@openssh.com",
	"aes128-gcm@openssh.com",
	"aes256-gcm@openssh.com",
	"aes128-ctr",
	"aes192-ctr",
	"aes256-ctr",
};

int pair_globals_init(void)
{
	static const uint8_t seeds[3][32] = {{1}, {2}, {3}};

	crypto = ssh_crypto_new();
	host_key = tc_ed25519_key(seeds[0]);
	user_key = tc_ed25519_key(seeds[1]);
	other_key = tc_ed25519_key(seeds[2]);
	return host_key == NULL || user_key == NULL || other_key == NULL ? -1 : 0;
}

void pair_globals_free(void)
{
	ssh_key_free(host_key);
	ssh_key_free(user_key);
	ssh_key_free(other_key);
	ssh_crypto_free(crypto);
}

static void fix_cfg(struct pair *p, const struct ssh_config *cfg)
{
	static struct ssh_key *keys[1];

	keys[0] = host_key;
	if (cfg)
		p->cfg = *cfg;
	p->cfg.host_keys = keys;
	p->cfg.n_host_keys = 1;
	p->cfg.crypto = crypto;
}

struct pair *pair_new(const struct tc_opts *o, const struct ssh_config *cfg)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	fix_cfg(p, cfg);
	p->s = ssh_new(&p->cfg);
	assert_non_null(p->s);
	tc_init(&p->c, o, host_key);
	p->auto_auth = p->auto_open = p->auto_consume = true;
	return p;
}

void pair_free(struct pair *p)
{
	ssh_free(p->s);
	tc_free(&p->c);
	sbuf_free(&p->log);
	sbuf_free(&p->data);
	free(p);
}

static void logf_(struct pair *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct pair *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sbuf_put(&p->log, line, strlen(line));
	sbuf_put_u8(&p->log, '\n');
}

static void on_data(struct pair *p, const struct ssh_event *ev);

/* The caller's default answers; every event is logged. */
static void on_event(struct pair *p, const struct ssh_event *ev)
{
	switch (ev->type) {
	case SSH_EV_KEX_DONE:
		p->kex_done++;
		logf_(p, "KEX_DONE");
		break;
	case SSH_EV_AUTH_REQUEST:
		/* The host's order (ssh.h): every key is "known" here, so signatures are checked
		 * before the answer. */
		logf_(p, "AUTH %s %s %s sig=%d ok=%d", ev->user, ev->method,
		      ssh_key_type_name(ev->key), ev->has_sig,
		      ev->has_sig && ssh_auth_verify(p->s));
		if (p->auto_auth)
			ssh_auth_accept(p->s);
		break;
	case SSH_EV_AUTH_REFUSED:
		logf_(p, "AUTH_REFUSED %s %s", ev->user, ev->method);
		break;
	case SSH_EV_CHANNEL_OPEN:
		logf_(p, "OPEN %u %s %zu", ssh_channel_id(ev->ch), ev->chan_type, ev->type_len);
		if (!p->auto_open)
			break;
		if (strcmp(ev->chan_type, "direct-tcpip") == 0) {
			p->ch = ev->ch;
			ssh_channel_confirm(p->s, ev->ch);
		} else {
			ssh_channel_refuse(p->s, ev->ch, SSH_OPEN_UNKNOWN_CHANNEL_TYPE,
					   "unknown type");
		}
		break;
	case SSH_EV_CHANNEL_DATA:
		logf_(p, "DATA %u %zu", ssh_channel_id(ev->ch), ev->len);
		on_data(p, ev);
		if (p->auto_consume)
			ssh_channel_consumed(p->s, ev->ch, ev->len);
		break;
	case SSH_EV_CHANNEL_EOF:
		logf_(p, "EOF %u", ssh_channel_id(ev->ch));
		if (p->reply_on_eof) {
			assert_int_equal(ssh_channel_write(p->s, ev->ch, "bye", 3), 3);
			ssh_channel_send_eof(p->s, ev->ch);
			ssh_channel_close(p->s, ev->ch);
		}
		break;
	case SSH_EV_CHANNEL_CLOSE:
		logf_(p, "CLOSE %u", ssh_channel_id(ev->ch));
		if (p->ch == ev->ch)
			p->ch = NULL;
		break;
	case SSH_EV_CHANNEL_WINDOW:
		logf_(p, "WINDOW %u", ssh_channel_id(ev->ch));
		break;
	case SSH_EV_GLOBAL_REQUEST:
		logf_(p, "GLOBAL %s", ev->name);
		break;
	case SSH_EV_CHANNEL_REQUEST:
		logf_(p, "REQUEST %u %s reply=%d len=%zu", ssh_channel_id(ev->ch), ev->name,
		      ev->want_reply, ev->type_len);
		if (ev->want_reply && !p->hold_requests)
			ssh_channel_request_reply(p->s, ev->ch, false);
		break;
	case SSH_EV_DISCONNECT:
		logf_(p, "DISCONNECT %u peer=%d %s", ev->reason, ev->peer, ev->text);
		p->disconnects++;
		p->disc_reason = ev->reason;
		p->disc_peer = ev->peer;
		snprintf(p->disc_text, sizeof(p->disc_text), "%s", ev->text);
		break;
	default:
		fail_msg("unexpected event %d", ev->type);
	}
}

void drain(struct pair *p)
{
	struct ssh_event ev;

	while (ssh_next_event(p->s, &ev))
		on_event(p, &ev);
}

/* Client output to the engine, chunk bytes per ssh_feed (0: all at once), events answered
 * after each chunk. */
void c2s_chunked(struct pair *p, size_t chunk)
{
	size_t off = 0, n = p->c.out.len;

	while (off < n) {
		size_t k = chunk && n - off > chunk ? chunk : n - off;
		ssh_feed(p->s, p->c.out.data + off, k);
		off += k;
		drain(p);
	}
	tc_out_consume(&p->c, n);
	drain(p);
}

/* Engine output to the client. Returns how many bytes moved. */
size_t s2c(struct pair *p)
{
	size_t n;
	const uint8_t *d = ssh_out_data(p->s, &n);

	if (n == 0)
		return 0;
	int r = tc_input(&p->c, d, n);
	ssh_out_consume(p->s, n);
	if (r != 0 && !p->client_err_ok)
		fail_msg("client: %s", p->c.err);
	return n;
}

/* Runs both sides until neither has anything to say. */
void run(struct pair *p)
{
	for (int i = 0; i < 1000; i++) {
		size_t moved = p->c.out.len;
		c2s_chunked(p, 0);
		moved += s2c(p);
		if (moved == 0)
			return;
	}
	fail_msg("run: no quiescence");
}

/* Feeds all pending client bytes without answering events. */
void feed(struct pair *p)
{
	ssh_feed(p->s, p->c.out.data, p->c.out.len);
	tc_out_consume(&p->c, p->c.out.len);
}

bool next(struct pair *p, struct ssh_event *ev)
{
	return ssh_next_event(p->s, ev);
}

void expect_event(struct pair *p, struct ssh_event *ev, enum ssh_event_type type)
{
	if (!next(p, ev))
		fail_msg("expected event %d, got none", type);
	if (ev->type != type)
		fail_msg("expected event %d, got %d", type, ev->type);
}

void expect_no_event(struct pair *p)
{
	struct ssh_event ev;

	if (next(p, &ev))
		fail_msg("unexpected event %d", ev.type);
}

/* Pops the client's next message, which must be of type msg; the reader is positioned after
 * the message number. m must be freed. */
void expect_msg(struct pair *p, uint8_t msg, struct sbuf *m, struct sreader *r)
{
	if (!tc_pop(&p->c, m))
		fail_msg("expected message %u, got none", msg);
	if (m->data[0] != msg && m->data[0] == M_DISCONNECT && m->len > 9)
		fail_msg("expected message %u, got DISCONNECT \"%.*s\"", msg,
			 (int)get_u32be(m->data + 5), (const char *)m->data + 9);
	if (m->data[0] != msg)
		fail_msg("expected message %u, got %u", msg, m->data[0]);
	sreader_init(r, m->data + 1, m->len - 1);
}

void expect_no_msg(struct pair *p)
{
	struct sbuf m;

	if (tc_pop(&p->c, &m)) {
		uint8_t t = m.data[0];
		sbuf_free(&m);
		fail_msg("unexpected message %u", t);
	}
}

void expect_str(struct sreader *r, const char *want)
{
	size_t n;
	const uint8_t *s = sreader_string(r, &n);

	assert_false(r->err);
	if (!sreader_string_eq(s, n, want))
		fail_msg("expected \"%s\", got \"%.*s\"", want, (int)n, (const char *)s);
}

/* Expects DISCONNECT from the engine (both the event and the message the client got). */
void expect_disconnect(struct pair *p, uint32_t reason)
{
	struct sbuf m;
	struct sreader r;

	drain(p);
	assert_int_equal(p->disconnects, 1);
	assert_int_equal(p->disc_reason, reason);
	assert_false(p->disc_peer);
	assert_true(ssh_closed(p->s));
	p->client_err_ok = true;
	s2c(p);
	for (;;) {
		if (!tc_pop(&p->c, &m))
			fail_msg("the client got no DISCONNECT (%s)", p->c.err);
		if (m.data[0] == M_DISCONNECT)
			break;
		sbuf_free(&m);
	}
	sreader_init(&r, m.data + 1, m.len - 1);
	assert_int_equal(sreader_u32(&r), reason);
	sbuf_free(&m);
	expect_no_msg(p);
}

/* After a disconnect: more input changes nothing and produces nothing. */
void expect_dead(struct pair *p)
{
	size_t n;

	ssh_out_data(p->s, &n);
	assert_int_equal(n, 0);
	tc_ignore(&p->c, 10);
	tc_global_request(&p->c, "x", true);
	feed(p);
	expect_no_event(p);
	ssh_out_data(p->s, &n);
	assert_int_equal(n, 0);
}

/* ---- common sequences ---- */

void handshake(struct pair *p)
{
	tc_start(&p->c);
	run(p);
	assert_string_equal(p->c.err, "");
	assert_int_equal(p->c.kex_count, 1);
	assert_int_equal(p->kex_done, 1);
	assert_int_equal(p->disconnects, 0);
}

void authenticate(struct pair *p)
{
	struct sbuf m;
	struct sreader r;

	tc_service_request(&p->c, "ssh-userauth");
	tc_auth_signed(&p->c, "alice", user_key, NULL);
	run(p);
	expect_msg(p, M_SERVICE_ACCEPT, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_USERAUTH_SUCCESS, &m, &r);
	sbuf_free(&m);
	assert_true(ssh_authenticated(p->s));
}

/* SERVICE_REQUEST ssh-userauth, and its SERVICE_ACCEPT. */
void service_accepted(struct pair *p)
{
	struct sbuf m;
	struct sreader r;

	tc_service_request(&p->c, "ssh-userauth");
	run(p);
	expect_msg(p, M_SERVICE_ACCEPT, &m, &r);
	sbuf_free(&m);
}

/* A signed publickey request once the ssh-userauth service is running. */
void auth_signed_ok(struct pair *p)
{
	struct sbuf m;
	struct sreader r;

	tc_auth_signed(&p->c, "alice", user_key, NULL);
	run(p);
	expect_msg(p, M_USERAUTH_SUCCESS, &m, &r);
	sbuf_free(&m);
	assert_true(ssh_authenticated(p->s));
}

struct pair *connected(const struct tc_opts *o, const struct ssh_config *cfg)
{
	struct pair *p = pair_new(o, cfg);

	handshake(p);
	authenticate(p);
	sbuf_reset(&p->log);
	return p;
}

/* Opens a direct-tcpip channel (client id `sender`) and returns the engine's channel. */
struct ssh_channel *open_channel(struct pair *p, uint32_t sender, uint32_t window,
				 uint32_t maxpacket)
{
	struct sbuf m;
	struct sreader r;

	tc_open_direct(&p->c, sender, window, maxpacket, "example.com", 80, "127.0.0.1", 1234);
	run(p);
	assert_non_null(p->ch);
	expect_msg(p, M_OPEN_CONFIRMATION, &m, &r);
	assert_int_equal(sreader_u32(&r), sender);
	assert_int_equal(sreader_u32(&r), ssh_channel_id(p->ch));
	sbuf_free(&m);
	return p->ch;
}

static uint8_t pattern(int dir, size_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) + (size_t)dir * 101);
}

void fill(int dir, size_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(dir, off + i);
}

static void on_data(struct pair *p, const struct ssh_event *ev)
{
	struct xfer *x = p->x;

	if (x == NULL) {
		sbuf_put(&p->data, ev->data, ev->len);
		return;
	}
	for (size_t i = 0; i < ev->len; i++) {
		if (ev->data[i] != pattern(0, x->c2s_rcvd + i))
			fail_msg("client-to-server byte %zu wrong", x->c2s_rcvd + i);
	}
	x->c2s_rcvd += ev->len;
}

static uint32_t xrand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Client side: data and window adjustments from the engine. */
static void xfer_client_rx(struct pair *p, struct xfer *x)
{
	struct sbuf m;
	struct sreader r;

	while (tc_pop(&p->c, &m)) {
		sreader_init(&r, m.data + 1, m.len - 1);
		assert_int_equal(sreader_u32(&r), 7); /* our channel id */
		if (m.data[0] == M_WINDOW_ADJUST) {
			x->c_window += sreader_u32(&r);
		} else {
			assert_int_equal(m.data[0], M_DATA);
			size_t n;
			const uint8_t *d = sreader_string(&r, &n);
			assert_false(r.err);
			if (n > x->c_maxpacket)
				fail_msg("engine sent %zu bytes, max packet %u", n, x->c_maxpacket);
			if (n > x->c_granted)
				fail_msg("engine sent %zu bytes into a window of %u", n,
					 x->c_granted);
			x->c_granted -= (uint32_t)n;
			for (size_t i = 0; i < n; i++) {
				if (d[i] != pattern(1, x->s2c_rcvd + i))
					fail_msg("server-to-client byte %zu wrong",
						 x->s2c_rcvd + i);
			}
			x->s2c_rcvd += n;
			x->c_consumed += (uint32_t)n;
		}
		sbuf_free(&m);
	}
	if (x->c_consumed >= x->c_win_size / 2) {
		tc_window_adjust(&p->c, 0, x->c_consumed);
		x->c_granted += x->c_consumed;
		x->c_consumed = 0;
	}
}

static void xfer_server_tx(struct pair *p, struct xfer *x, struct ssh_channel *ch)
{
	uint8_t buf[20000];

	while (x->s2c_sent < x->total) {
		if (x->server_rekey_at && !x->server_rekeyed && x->s2c_sent >= x->server_rekey_at) {
			ssh_rekey(p->s);
			x->server_rekeyed = true;
		}
		size_t space = ssh_channel_send_space(p->s, ch);
		if (kex_tx_blocked(p->s)) {
			assert_int_equal(space, 0);
			x->blocked_seen++;
		}
		if (space == 0)
			break;
		size_t n = x->total - x->s2c_sent;
		n = n < space ? n : space;
		n = n < sizeof(buf) ? n : sizeof(buf);
		fill(1, x->s2c_sent, buf, n);
		size_t w = ssh_channel_write(p->s, ch, buf, n);
		assert_true(w > 0 && w <= n);
		x->s2c_sent += w;
	}
}

static void xfer_client_tx(struct pair *p, struct xfer *x)
{
	uint8_t buf[8192];

	while (x->c2s_sent < x->total && x->c_window > 0) {
		if (x->client_rekey_at && !x->client_rekeyed && x->c2s_sent >= x->client_rekey_at) {
			tc_rekey(&p->c);
			x->client_rekeyed = true;
		}
		if (x->both_rekey_at && !x->client_rekeyed && x->c2s_sent >= x->both_rekey_at) {
			assert_false(kex_running(p->s));
			tc_rekey(&p->c);
			ssh_rekey(p->s);
			x->client_rekeyed = x->server_rekeyed = true;
		}
		size_t n = x->total - x->c2s_sent;
		n = n < x->c_window ? n : x->c_window;
		n = n < sizeof(buf) ? n : sizeof(buf);
		fill(0, x->c2s_sent, buf, n);
		tc_data(&p->c, 0, buf, n);
		x->c2s_sent += n;
		x->c_window -= (uint32_t)n;
	}
}

/* Moves x->total bytes each way through channel ch (client id 7), feeding the engine in
 * pseudo-random chunk sizes so packets straddle feeds. */
void xfer_run(struct pair *p, struct xfer *x, struct ssh_channel *ch)
{
	p->x = x;
	for (int iter = 0; x->c2s_rcvd < x->total || x->s2c_rcvd < x->total; iter++) {
		if (iter > 100000)
			fail_msg("transfer stalled: c2s %zu/%zu s2c %zu/%zu", x->c2s_rcvd, x->total,
				 x->s2c_rcvd, x->total);
		xfer_client_tx(p, x);
		c2s_chunked(p, 1 + xrand(&x->chunk_seed) % 5000);
		assert_int_equal(p->disconnects, 0);
		xfer_server_tx(p, x, ch);
		s2c(p);
		xfer_client_rx(p, x);
	}
	run(p);
	xfer_client_rx(p, x);
	p->x = NULL;
	assert_int_equal(x->c2s_rcvd, x->total);
	assert_int_equal(x->s2c_rcvd, x->total);
	assert_int_equal(p->c.conn_in_kex, 0);
	assert_string_equal(p->c.err, "");
	assert_int_equal(p->disconnects, 0);
}

struct ssh_channel *xfer_open(struct pair *p, struct xfer *x, size_t total)
{
	memset(x, 0, sizeof(*x));
	x->total = total;
	x->c_win_size = x->c_granted = 64 * 1024;
	x->c_maxpacket = 16 * 1024;
	x->c_window = p->cfg.window ? p->cfg.window : 2 * 1024 * 1024;
	x->chunk_seed = 0x12345;
	return open_channel(p, 7, x->c_win_size, x->c_maxpacket);
}

struct pair *connected_cipher(const char *cipher)
{
	struct tc_opts o = {.enc_c2s = cipher, .enc_s2c = cipher};

	return connected(&o, NULL);
}

struct pair *connected_suite(const char *cipher, const char *mac)
{
	struct tc_opts o = {.enc_c2s = cipher, .enc_s2c = cipher, .mac_c2s = mac, .mac_s2c = mac};
	struct ssh_config cfg = {.macs = ssh_alg_supported(SSH_ALG_MAC)};

	return connected(&o, &cfg);
}
