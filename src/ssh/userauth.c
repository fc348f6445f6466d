/* User authentication (RFC 4252): the ssh-userauth service, publickey queries and signed
 * requests (RFC 4252 §7). The decision is the caller's; every other method is refused, and
 * every refusal reaches the caller (AUTH_REFUSED) so that it counts as an attempt. */
#include <stdlib.h>
#include <string.h>

#include "../xmalloc.h"
#include "internal.h"
#include "key.h"
#include "key_cert.h"

#define USERAUTH_MAX_USER    256
#define USERAUTH_MAX_SERVICE 64
#define USERAUTH_MAX_METHOD  32 /* as far as events report it */

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
	if (!sreader_end(&r)) { /* OpenSSH: sshpkt_get_end in input_service_request */
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad SERVICE_REQUEST");
		return;
	}
	if (!sreader_string_eq(name, len, "ssh-userauth")) {
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

/* Forgets the pending request. */
static void userauth_clear(struct ssh *s)
{
	free(s->auth_user);
	free(s->auth_alg);
	ssh_key_free(s->auth_key);
	ssh_cert_free(s->auth_cert);
	sbuf_free(&s->auth_signed);
	s->auth_user = NULL;
	s->auth_alg = NULL;
	s->auth_key = NULL;
	s->auth_cert = NULL;
	s->auth_sig_off = 0;
	s->auth_pending = false;
	s->auth_has_sig = false;
	s->auth_checked = false;
	s->auth_sig_ok = false;
}

void userauth_free(struct ssh *s)
{
	userauth_clear(s);
	sbuf_free(&s->auth_who);
}

/* The fields every USERAUTH_REQUEST starts with (RFC 4252 §5); `who` is string user followed
 * by string service, as they lie in the packet. */
struct auth_req {
	const uint8_t *user, *service, *method, *who;
	size_t ulen, slen, mlen, wholen;
};

/* A received name as a C string for an event: "(invalid)" if it holds a NUL (which would
 * disguise it), otherwise its first max bytes. */
static const char *event_str(struct ssh *s, const uint8_t *p, size_t n, size_t max)
{
	if (memchr(p, '\0', n) != NULL)
		return "(invalid)";
	return scratch_str(s, p, n > max ? max : n);
}

static void report_refused(struct ssh *s, const struct auth_req *q, const char *why,
			   struct ssh_event *ev)
{
	ev->type = SSH_EV_AUTH_REFUSED;
	ev->user = event_str(s, q->user, q->ulen, USERAUTH_MAX_USER);
	ev->method = event_str(s, q->method, q->mlen, USERAUTH_MAX_METHOD);
	ev->text = why;
}

/* A request the engine refuses on its own: FAILURE, and an AUTH_REFUSED event so that the host
 * counts and logs it like a rejected key. Returns true (an event is ready). */
static bool refuse(struct ssh *s, const struct auth_req *q, const char *why, struct ssh_event *ev)
{
	userauth_clear(s);
	send_failure(s);
	report_refused(s, q, why, ev);
	return true;
}

/* A request whose method fields don't parse, or with bytes after them: reported like a refusal,
 * and the session ends (OpenSSH: "parse packet" is fatal, sshpkt_get_end). */
static bool refuse_malformed(struct ssh *s, const struct auth_req *q, struct ssh_event *ev)
{
	userauth_clear(s);
	ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad USERAUTH_REQUEST");
	report_refused(s, q, "malformed", ev);
	return true;
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

/* The key that signs the pending request: the plain key, or the certificate's key. */
static const struct ssh_key *auth_signer(const struct ssh *s)
{
	return s->auth_cert ? s->auth_cert->key : s->auth_key;
}

/* The length of the signature algorithm inside a request's algorithm name: for a certificate
 * "X-cert-v01@openssh.com" signs with X ("rsa-sha2-512-cert-v01@openssh.com": rsa-sha2-512,
 * as OpenSSH's sshkey_sigalg_by_name), which the certified key must be able to use. 0 when
 * the name doesn't fit the key (a plain name for a certificate, or the other way round). */
static size_t sig_alg_len(const struct ssh *s, const uint8_t *alg, size_t alglen)
{
	size_t sl = strlen(SSH_CERT_SUFFIX);

	if (s->auth_cert == NULL)
		return ssh_key_alg_ok(s->auth_key, (const char *)alg, alglen) ? alglen : 0;
	if (alglen <= sl || memcmp(alg + alglen - sl, SSH_CERT_SUFFIX, sl) != 0 ||
	    !ssh_key_alg_ok(s->auth_cert->key, (const char *)alg, alglen - sl))
		return 0;
	return alglen - sl;
}

/* The key of a publickey request: a plain key (key_from_blob) or a certificate
 * (key_cert_parse), by the blob's type string. 0, or -1 when it doesn't parse. */
static int read_request_key(struct ssh *s, const uint8_t *blob, size_t bloblen)
{
	struct sreader r;
	size_t tn;
	const uint8_t *t;

	sreader_init(&r, blob, bloblen);
	t = sreader_string(&r, &tn);
	if (!r.err && ssh_cert_is_cert_type(t, tn))
		return key_cert_parse(s->cfg.crypto, blob, bloblen, &s->auth_cert, NULL, 0);
	return key_from_blob(s->cfg.crypto, blob, bloblen, &s->auth_key);
}

/* A publickey request: the key and algorithm are checked here, the signature only when the
 * host asks (ssh_auth_verify), after it has looked the key up. A key we can't take (unknown
 * type, malformed, out of bounds: key_from_blob) or an algorithm its key can't use is refused
 * and counted, as OpenSSH does (auth2-pubkey.c: "goto done"). */
static bool recv_publickey(struct ssh *s, const struct auth_req *q, struct sreader *r,
			   const uint8_t *p, struct ssh_event *ev)
{
	size_t alglen, bloblen, siglen = 0;
	bool has_sig = sreader_bool(r);
	const uint8_t *alg = sreader_string(r, &alglen);
	const uint8_t *blob = sreader_string(r, &bloblen);
	size_t signed_len = r->off + 1; /* payload bytes before the signature (+ msg byte) */
	const uint8_t *sig = has_sig ? sreader_string(r, &siglen) : NULL;

	if (!sreader_end(r))
		return refuse_malformed(s, q, ev);
	if (read_request_key(s, blob, bloblen) != 0)
		return refuse(s, q, "key refused", ev);
	if (sig_alg_len(s, alg, alglen) == 0)
		return refuse(s, q, "algorithm mismatch", ev);
	s->auth_user = xstrndup((const char *)q->user, q->ulen);
	s->auth_alg = xstrndup((const char *)alg, alglen);
	s->auth_has_sig = has_sig;
	if (has_sig)
		keep_signed(s, p, signed_len, sig, siglen);
	s->auth_pending = true;
	ev->type = SSH_EV_AUTH_REQUEST;
	ev->user = s->auth_user;
	ev->method = "publickey";
	ev->key = auth_signer(s);
	ev->cert = s->auth_cert;
	ev->has_sig = has_sig;
	return true;
}

/* RFC 4252 §5 would let the user name and service change between requests; OpenSSH doesn't
 * (auth2.c input_userauth_request: "Change of username or service not allowed") and neither
 * do we, so that attempts count against one user. The first request with a usable user name
 * and service fixes both. Returns false if this request names others. */
static bool same_user_and_service(struct ssh *s, const struct auth_req *q)
{
	if (s->auth_who.len == 0) {
		sbuf_put(&s->auth_who, q->who, q->wholen);
		return true;
	}
	return s->auth_who.len == q->wholen && memcmp(s->auth_who.data, q->who, q->wholen) == 0;
}

/* USERAUTH_REQUEST (RFC 4252 §5). Every request that isn't handed to the host as AUTH_REQUEST
 * is refused here and reported as AUTH_REFUSED, except a first "none": the client's opening
 * question, which OpenSSH doesn't count either (auth2.c userauth_finish: "Allow initial try of
 * none auth without failure penalty"). Returns true when an event is ready. */
bool userauth_recv_request(struct ssh *s, const uint8_t *p, size_t n, struct ssh_event *ev)
{
	struct sreader r;
	struct auth_req q;

	sreader_init(&r, p + 1, n - 1);
	q.user = sreader_string(&r, &q.ulen);
	q.service = sreader_string(&r, &q.slen);
	q.who = p + 1;
	q.wholen = r.off;
	q.method = sreader_string(&r, &q.mlen);
	if (r.err) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR, "bad USERAUTH_REQUEST");
		return false;
	}
	s->auth_requests++;
	userauth_clear(s);
	if (q.ulen > USERAUTH_MAX_USER || memchr(q.user, '\0', q.ulen) != NULL)
		return refuse(s, &q, "bad user name", ev);
	if (q.slen > USERAUTH_MAX_SERVICE)
		return refuse(s, &q, "wrong service", ev);
	if (!same_user_and_service(s, &q)) {
		ssh_fail(s, SSH_DISCONNECT_PROTOCOL_ERROR,
			 "change of user name or service not allowed");
		return false;
	}
	if (!sreader_string_eq(q.service, q.slen, "ssh-connection"))
		return refuse(s, &q, "wrong service", ev);
	if (sreader_string_eq(q.method, q.mlen, "publickey"))
		return recv_publickey(s, &q, &r, p, ev);
	if (!sreader_string_eq(q.method, q.mlen, "none"))
		return refuse(s, &q, "method not supported", ev); /* its fields are not read */
	if (!sreader_end(&r))
		return refuse_malformed(s, &q, ev);
	if (s->auth_requests > 1)
		return refuse(s, &q, "none", ev);
	send_failure(s);
	return false;
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
		size_t alglen = sig_alg_len(s, (const uint8_t *)s->auth_alg, strlen(s->auth_alg));
		s->auth_sig_ok = ssh_key_verify(auth_signer(s), s->auth_alg, alglen,
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
		size_t bloblen = s->auth_cert ? s->auth_cert->len : 0;
		const uint8_t *blob =
			s->auth_cert ? s->auth_cert->blob : ssh_key_blob(s->auth_key, &bloblen);
		struct sbuf *b = pkt_begin(s, MSG_USERAUTH_PK_OK);
		sbuf_put_cstring(b, s->auth_alg);
		sbuf_put_string(b, blob, bloblen);
		pkt_end(s);
	} else if (s->auth_checked && s->auth_sig_ok) {
		pkt_begin(s, MSG_USERAUTH_SUCCESS);
		pkt_end(s);
		s->state = ST_CONNECTED;
		sbuf_free(&s->auth_who);
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
