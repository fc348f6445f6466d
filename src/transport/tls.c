/* TLS transport (tls.h). OpenSSL reads and writes the lower transport through a BIO of ours,
 * so this layer has no socket of its own and no buffer besides OpenSSL's records.
 *
 * Readiness: the owner says what it wants (read, write); OpenSSL says what it needs from the
 * lower transport to make progress (a read may need to write, during the handshake or a key
 * update, and the other way round). The lower transport is asked for the union, and its
 * readiness is handed to the owner as the operation it unblocks. Bytes OpenSSL already holds
 * (SSL_has_pending: decrypted, or whole records read ahead) are reported through buffered()
 * and a deferred callback, since the socket may stay quiet.
 *
 * Writes: one SSL_write makes a TLS record per 16 KiB. The records of one call are gathered in
 * a bounded buffer (out[], allocated while it holds bytes) and handed to the lower transport in
 * one write, not one system call per record. What the socket did not take waits there: it is
 * reported through unsent(), the lower transport is asked for write readiness until it is out,
 * and the owner's next write first empties it. */
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "../log.h"
#include "../loop.h"
#include "../xmalloc.h"

#define TLS_CIPHERS_12                                                                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Four full records (16 KiB of data and up to 256 bytes of header, tag and padding each). */
#define TLS_OUT_MAX (4 * (16384 + 256))

struct tls_transport {
	struct transport base; /* first */
	struct transport *lower;
	struct loop *loop;
	SSL *ssl;
	unsigned owner_want;
	bool handshaken;
	bool read_needs_write; /* the last SSL_read wanted the lower transport writable */
	bool write_needs_read; /* the last SSL_write wanted it readable */
	bool handshake_wants_write;
	bool pending_queued; /* a callback for SSL_pending bytes is deferred */
	bool closed;
	bool failed;  /* the lower transport failed a write */
	uint8_t *out; /* records not yet written to the lower transport; NULL when none */
	size_t out_len, out_off;
	char addr[64];
};

static struct tls_transport *tls_of(struct transport *t)
{
	return (struct tls_transport *)t;
}

static size_t out_held(const struct tls_transport *tt)
{
	return tt->out_len - tt->out_off;
}

/* Forgets the held records (sent, or to be dropped) and frees their buffer. */
static void out_drop(struct tls_transport *tt)
{
	free(tt->out);
	tt->out = NULL;
	tt->out_len = tt->out_off = 0;
}

/* Writes held records to the lower transport: 1 when none is left, 0 when it would block,
 * -1 when it failed (the connection is then dead: failed is set). */
static int out_flush(struct tls_transport *tt)
{
	while (out_held(tt) > 0 && !tt->failed) {
		ssize_t n = transport_write(tt->lower, tt->out + tt->out_off, out_held(tt));
		if (n > 0)
			tt->out_off += (size_t)n;
		else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		else
			tt->failed = true;
	}
	out_drop(tt);
	return tt->failed ? -1 : 1;
}

/* The BIO: records are gathered in out[] (see the top); reads go to the lower transport. */
static int bio_write(BIO *b, const char *buf, int len)
{
	struct tls_transport *tt = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (out_held(tt) + (size_t)len > TLS_OUT_MAX && out_flush(tt) < 0)
		return -1;
	if (tt->out == NULL) {
		tt->out = xmalloc(TLS_OUT_MAX);
	} else if (tt->out_off > 0) {
		memmove(tt->out, tt->out + tt->out_off, out_held(tt));
		tt->out_len -= tt->out_off;
		tt->out_off = 0;
	}
	size_t n = TLS_OUT_MAX - tt->out_len;
	if (n == 0) {
		BIO_set_retry_write(b);
		return -1;
	}
	if (n > (size_t)len)
		n = (size_t)len;
	memcpy(tt->out + tt->out_len, buf, n);
	tt->out_len += n;
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct tls_transport *tt = BIO_get_data(b);
	ssize_t n = transport_read(tt->lower, buf, (size_t)len);

	BIO_clear_retry_flags(b);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		BIO_set_retry_read(b);
	return -1;
}

/* OpenSSL flushes after each handshake flight (and its alerts): held records go out, or the
 * handshake step waits for write readiness. */
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_transport *tt = BIO_get_data(b);

	(void)num;
	(void)ptr;
	if (cmd != BIO_CTRL_FLUSH)
		return 0;
	BIO_clear_retry_flags(b);
	int r = out_flush(tt);
	if (r == 0)
		BIO_set_retry_write(b);
	return r > 0 ? 1 : -1;
}

/* Made once, by the first tls_ctx_new (start-up, on the main thread, before any loop runs),
 * read-only afterwards. */
static BIO_METHOD *bio_method(void)
{
	static BIO_METHOD *m;

	if (m == NULL) {
		m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "alknet-transport");
		BIO_meth_set_write(m, bio_write);
		BIO_meth_set_read(m, bio_read);
		BIO_meth_set_ctrl(m, bio_ctrl);
	}
	return m;
}

static void update_lower_want(struct tls_transport *tt)
{
	unsigned w = 0;

	if (!tt->handshaken) {
		w = TRANSPORT_READ | (tt->handshake_wants_write ? TRANSPORT_WRITE : 0);
	} else {
		if (tt->owner_want & TRANSPORT_READ)
			w |= tt->read_needs_write ? TRANSPORT_WRITE : TRANSPORT_READ;
		if (tt->owner_want & TRANSPORT_WRITE)
			w |= tt->write_needs_read ? TRANSPORT_READ : TRANSPORT_WRITE;
	}
	if (out_held(tt) > 0)
		w |= TRANSPORT_WRITE;
	transport_want(tt->lower, w);
}

static void pending_cb(struct loop *l, void *ctx)
{
	struct tls_transport *tt = ctx;

	(void)l;
	tt->pending_queued = false;
	if (!tt->closed && (tt->owner_want & TRANSPORT_READ) && SSL_has_pending(tt->ssl))
		tt->base.cb(tt->base.ctx, TRANSPORT_READ);
}

/* Bytes are held in OpenSSL but the socket may stay quiet: call the owner back. */
static void queue_pending(struct tls_transport *tt)
{
	if (tt->pending_queued || tt->closed || !SSL_has_pending(tt->ssl))
		return;
	tt->pending_queued = true;
	loop_defer(tt->loop, pending_cb, tt);
}

/* A failed handshake: one INFO line with the reason, then the owner sees an error. */
static void handshake_failed(struct tls_transport *tt)
{
	char reason[128] = "connection closed";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		snprintf(reason, sizeof(reason), "%s", ERR_reason_error_string(e) ?: "tls error");
	ERR_clear_error();
	log_info("tls handshake failed remote_addr=%s reason=\"%s\"", tt->addr, reason);
	tt->base.cb(tt->base.ctx, TRANSPORT_ERROR);
}

static void handshake_step(struct tls_transport *tt)
{
	int r = SSL_do_handshake(tt->ssl);

	if (r == 1) {
		tt->handshaken = true;
		update_lower_want(tt);
		tt->base.cb(tt->base.ctx, TRANSPORT_READ | TRANSPORT_WRITE);
		return;
	}
	int err = SSL_get_error(tt->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		tt->handshake_wants_write = err == SSL_ERROR_WANT_WRITE;
		update_lower_want(tt);
		return;
	}
	handshake_failed(tt);
}

static void lower_cb(void *ctx, unsigned events)
{
	struct tls_transport *tt = ctx;

	if ((events & TRANSPORT_WRITE) && out_held(tt) > 0 && tt->handshaken) {
		if (out_flush(tt) < 0)
			events |= TRANSPORT_ERROR;
		else if (out_held(tt) > 0)
			events &= ~(unsigned)TRANSPORT_WRITE; /* still waiting for the socket */
		update_lower_want(tt);
	}
	if (!tt->handshaken) {
		handshake_step(tt);
		return;
	}
	unsigned out = events & TRANSPORT_ERROR;
	if (events & TRANSPORT_READ)
		out |= tt->write_needs_read ? TRANSPORT_WRITE : TRANSPORT_READ;
	if (events & TRANSPORT_WRITE)
		out |= tt->read_needs_write ? TRANSPORT_READ : TRANSPORT_WRITE;
	tt->base.cb(tt->base.ctx, out);
}

/* A write to the lower transport failed: the connection is over. */
static ssize_t dead(void)
{
	ERR_clear_error();
	errno = ECONNRESET;
	return -1;
}

/* SSL_read/SSL_write results as read(2)/write(2) results. */
static ssize_t io_result(struct tls_transport *tt, int r, bool reading)
{
	int err = SSL_get_error(tt->ssl, r);

	if (reading)
		tt->read_needs_write = err == SSL_ERROR_WANT_WRITE;
	else
		tt->write_needs_read = err == SSL_ERROR_WANT_READ;
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		update_lower_want(tt);
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0; /* close_notify */
	default:
		ERR_clear_error();
		errno = ECONNRESET;
		return -1;
	}
}

static ssize_t tls_read(struct transport *t, void *buf, size_t len)
{
	struct tls_transport *tt = tls_of(t);

	if (!tt->handshaken) {
		errno = EAGAIN;
		return -1;
	}
	int r = SSL_read(tt->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (out_held(tt) > 0) { /* a read may answer (a key update): send it now */
		if (out_flush(tt) < 0)
			return dead();
		update_lower_want(tt);
	}
	if (r > 0) {
		tt->read_needs_write = false;
		queue_pending(tt);
		return r;
	}
	return io_result(tt, r, true);
}

static ssize_t tls_write(struct transport *t, const void *buf, size_t len)
{
	struct tls_transport *tt = tls_of(t);

	if (!tt->handshaken || out_flush(tt) == 0) {
		update_lower_want(tt);
		errno = EAGAIN;
		return -1;
	}
	if (tt->failed)
		return dead();
	int r = SSL_write(tt->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (out_flush(tt) < 0)
		return dead();
	if (r > 0) {
		tt->write_needs_read = false;
		update_lower_want(tt);
		return r;
	}
	return io_result(tt, r, false);
}

static size_t tls_buffered(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;

	/* With read-ahead, whole records may wait undecrypted: SSL_has_pending counts them (as one
	 * byte at least), SSL_pending only the decrypted rest of the current record. */
	size_t held = (size_t)SSL_pending(tt->ssl);

	if (held == 0 && SSL_has_pending(tt->ssl))
		held = 1;
	return held + transport_buffered(tt->lower);
}

/* Ends the stream the way a quiet SSL shutdown does: records still held are dropped, no
 * close_notify will follow, and the socket below is shut for writing. */
static void tls_shut(struct transport *t)
{
	struct tls_transport *tt = tls_of(t);

	SSL_set_quiet_shutdown(tt->ssl, 1);
	out_drop(tt);
	transport_shut(tt->lower);
}

static size_t tls_unsent(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;

	return out_held(tt) + transport_unsent(tt->lower);
}

static int tls_want(struct transport *t, unsigned events)
{
	struct tls_transport *tt = tls_of(t);

	tt->owner_want = events;
	if (tt->handshaken) {
		update_lower_want(tt);
		if (events & TRANSPORT_READ)
			queue_pending(tt);
	}
	return 0;
}

static void tls_free_cb(struct loop *l, void *ctx)
{
	struct tls_transport *tt = ctx;

	(void)l;
	SSL_free(tt->ssl);
	free(tt->out);
	free(tt);
}

static void tls_close(struct transport *t)
{
	struct tls_transport *tt = tls_of(t);

	if (tt->handshaken)
		SSL_shutdown(tt->ssl); /* one close_notify, best effort, no waiting */
	out_flush(tt);
	ERR_clear_error();
	tt->closed = true;
	transport_close(tt->lower);
	tt->lower = NULL;
	loop_defer(tt->loop, tls_free_cb, tt);
}

static const struct transport_ops tls_ops = {
	.name = "tls",
	.read = tls_read,
	.write = tls_write,
	.buffered = tls_buffered,
	.unsent = tls_unsent,
	.shut = tls_shut,
	.want = tls_want,
	.close = tls_close,
};

struct transport *transport_tls_new(struct loop *l, struct transport *lower, SSL_CTX *ctx,
				    const char *addr)
{
	struct tls_transport *tt = xcalloc(1, sizeof(*tt));
	BIO *bio = BIO_new(bio_method());

	tt->base.ops = &tls_ops;
	tt->lower = lower;
	tt->loop = l;
	snprintf(tt->addr, sizeof(tt->addr), "%s", addr);
	tt->ssl = SSL_new(ctx);
	if (tt->ssl == NULL || bio == NULL)
		abort(); /* out of memory */
	BIO_set_data(bio, tt);
	BIO_set_init(bio, 1);
	SSL_set_bio(tt->ssl, bio, bio);
	SSL_set_accept_state(tt->ssl);
	lower->cb = lower_cb;
	lower->ctx = tt;
	transport_want(lower, TRANSPORT_READ);
	return &tt->base;
}

SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	bio_method();
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		snprintf(err, errlen, "%s: cannot use the certificate chain: %s", cert_path,
			 ERR_reason_error_string(ERR_peek_last_error()) ?: "unknown error");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s: cannot use the private key: %s", key_path,
			 ERR_reason_error_string(ERR_peek_last_error())
				 ?: "does not match the certificate");
		goto fail;
	}
	ERR_clear_error();
	return ctx;
fail:
	if (ctx == NULL)
		snprintf(err, errlen, "cannot make a TLS context");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}
