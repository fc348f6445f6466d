/* User authentication (RFC 4252): the ssh-userauth service, publickey queries and signed
 * requests (RFC 4252 §7). The decision is the caller's; every other method is refused. */
#include <stdlib.h>
#include <string.h>

#include "../xmalloc.h"
#include "internal.h"
#include "key.h"

#define USERAUTH_MAX_USER 256

void userauth_recv_service_request(struct ssh *s, const uint8_t *p, size_t n)
{
	struct sreader r;
	size_t len;

	/* Some clients (paramiko) ask again before every auth attempt; OpenSSH allows it until
	 * authentication succeeds, and so do we. */
	if (s->state == ST_CONNECTED) {
		send_unimplemented(s);
		return;
	}
	if (s->state != ST_SERVICE && s->state != ST_USERAUTH) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "unexpected SERVICE_REQUEST");
		return;
	}
	sreader_init(&r, p + 1, n - 1);
	const uint8_t *name = sreader_string(&r, &len);
	if (r.err || !sreader_string_eq(name, len, "ssh-userauth")) {
		ssh_fail(s, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE, "service not available");
		return;
	}
	struct sbuf *b = pkt_begin(s, MSG_SERVICE_ACCEPT);
	sbuf_put_string(b, name, len);
	pkt_end(s);
	s->state = ST_USERAUTH;
}

static void send_failure(struct ssh *s)
{
	struct sbuf *b = pkt_begin(s, MSG_USERAUTH_FAILURE);

	sbuf_put_cstring(b, "publickey");
	sbuf_put_u8(b, 0);
	pkt_end(s);
}

void userauth_clear(struct ssh *s)
{
	free(s->auth_user);
	free(s->auth_alg);
	ssh_key_free(s->auth_key);
	sbuf_free(&s->auth_signed);
	s->auth_user = NULL;
	s->auth_alg = NULL;
	s->auth_key = NULL;
	s->auth_sig_off = 0;
	s->auth_pending = false;
	s->auth_has_sig = false;
	s->auth_checked = false;
	s->auth_sig_ok = false;
}

/* Keeps what a signed publickey request's signature covers, string session_id followed by
 * the request payload up to the signature (RFC 4252 §7), and the signature, for
 * ssh_auth_verify(). Both come from one packet, so they are bounded by its size. */
static void keep_signed(struct ssh *s, const uint8_t *p, size_t signed_len, const uint8_t *sig,
			size_t siglen)
{
	struct sbuf *b = &s->auth_signed;

	sbuf_put_string(b, s->session_id, s->session_id_len);
	sbuf_put(b, p, signed_len);
	s->auth_sig_off = b->len;
	sbuf_put(b, sig, siglen);
}

/* A publickey request: the key and algorithm are checked here, the signature only when the
 * host asks (ssh_auth_verify), after it has looked the key up. */
static bool recv_publickey(struct ssh *s, struct sreader *r, const uint8_t *p, struct ssh_event *ev)
{
	size_t alglen, bloblen, siglen = 0;
	bool has_sig = sreader_bool(r);
	const uint8_t *alg = sreader_string(r, &alglen);
	const uint8_t *blob = sreader_string(r, &bloblen);
	size_t signed_len = r->off + 1; /* payload bytes before the signature (+ msg byte) */
	const uint8_t *sig = has_sig ? sreader_string(r, &siglen) : NULL;

	if (r->err || sreader_left(r) != 0 ||
	    key_from_blob(s->cfg.crypto, blob, bloblen, &s->auth_key) != 0 ||
	    !ssh_key_alg_ok(s->auth_key, (const char *)alg, alglen)) {
		userauth_clear(s);
		send_failure(s);
		return false;
	}
	s->auth_alg = xstrndup((const char *)alg, alglen);
	s->auth_has_sig = has_sig;
	if (has_sig)
		keep_signed(s, p, signed_len, sig, siglen);
	s->auth_pending = true;
	ev->type = SSH_EV_AUTH_REQUEST;
	ev->user = s->auth_user;
	ev->method = "publickey";
	ev->key = s->auth_key;
	ev->has_sig = has_sig;
	return true;
}

bool userauth_recv_request(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev)
{
	struct sreader r;
	size_t ulen, slen, mlen;

	sreader_init(&r, p + 1, n - 1);
	const uint8_t *user = sreader_string(&r, &ulen);
	const uint8_t *service = sreader_string(&r, &slen);
	const uint8_t *method = sreader_string(&r, &mlen);
	if (r.err) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad USERAUTH_REQUEST");
		return false;
	}
	if (ulen > USERAUTH_MAX_USER || memchr(user, '\0', ulen) != NULL ||
	    !sreader_string_eq(service, slen, "ssh-connection")) {
		send_failure(s);
		return false;
	}
	userauth_clear(s);
	s->auth_user = xstrndup((const char *)user, ulen);
	if (sreader_string_eq(method, mlen, "publickey"))
		return recv_publickey(s, &r, p, ev);
	send_failure(s);
	if (sreader_string_eq(method, mlen, "none"))
		return false; /* a client's opening question, not an attempt */
	ev->type = SSH_EV_AUTH_REFUSED;
	ev->user = scratch_str(s, user, ulen);
	/* Reported as a C string: a NUL inside would disguise the method. */
	ev->method = memchr(method, '\0', mlen) ? "(invalid)"
						: scratch_str(s, method, mlen > 32 ? 32 : mlen);
	userauth_clear(s);
	return true;
}

/* The signature check, at most once per request: the signed data is dropped afterwards and
 * the verdict kept for ssh_auth_accept. */
bool ssh_auth_verify(struct ssh *s)
{
	if (!s->auth_pending || !s->auth_has_sig || s->state == ST_CLOSED)
		return false;
	if (!s->auth_checked) {
		const struct sbuf *b = &s->auth_signed;
		s->auth_checked = true;
		s->auth_sig_ok = ssh_key_verify(s->auth_key, s->auth_alg, strlen(s->auth_alg),
						b->data + s->auth_sig_off, b->len - s->auth_sig_off,
						b->data, s->auth_sig_off) == 0;
		sbuf_free(&s->auth_signed);
		s->auth_sig_off = 0;
	}
	return s->auth_sig_ok;
}

void ssh_auth_accept(struct ssh *s)
{
	if (!s->auth_pending || s->state == ST_CLOSED)
		return;
	if (!s->auth_has_sig) {
		size_t bloblen;
		const uint8_t *blob = ssh_key_blob(s->auth_key, &bloblen);
		struct sbuf *b = pkt_begin(s, MSG_USERAUTH_PK_OK);
		sbuf_put_cstring(b, s->auth_alg);
		sbuf_put_string(b, blob, bloblen);
		pkt_end(s);
	} else if (s->auth_checked && s->auth_sig_ok) {
		pkt_begin(s, MSG_USERAUTH_SUCCESS);
		pkt_end(s);
		s->state = ST_CONNECTED;
	} else {
		send_failure(s); /* not verified, or did not verify */
	}
	userauth_clear(s);
}

void ssh_auth_reject(struct ssh *s)
{
	if (!s->auth_pending || s->state == ST_CLOSED)
		return;
	send_failure(s);
	userauth_clear(s);
}
