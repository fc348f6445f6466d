/* Unit tests for user authentication (src/ssh/userauth.c): the ssh-userauth service, none and
 * password refused, publickey queries and signatures (ssh-ed25519, rsa-sha2-*, never SHA-1
 * ssh-rsa), and the caller's decisions. Driven in memory by the test client
 * (sshtest_client.h) through the engine_pair.h harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "engine_pair.h"
#include "ssh/internal.h"
#include "ssh/ssh.h"

/* ---- user auth ---- */

/* A pair whose ssh-userauth service runs, the log cleared. */
static struct pair *userauth_ready(void)
{
	struct pair *p = pair_new(NULL, NULL);

	handshake(p);
	service_accepted(p);
	sbuf_reset(&p->log);
	return p;
}

/* Each user in a session of its own: the user name may not change between requests. */
static void test_auth_none_and_password(void **state)
{
	struct pair *p = userauth_ready();
	struct sbuf m;
	struct sreader r;
	(void)state;

	/* none first: FAILURE listing publickey, no event. */
	tc_auth_none(&p->c, "alice");
	run(p);
	assert_int_equal(p->log.len, 0);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	expect_str(&r, "publickey");
	assert_false(sreader_bool(&r));
	assert_int_equal(sreader_left(&r), 0);
	sbuf_free(&m);
	auth_signed_ok(p);
	pair_free(p);

	/* password: refused, and the caller hears of it. */
	p = userauth_ready();
	tc_auth_password(&p->c, "bob", "secret");
	run(p);
	sbuf_put_u8(&p->log, 0);
	assert_string_equal((const char *)p->log.data, "AUTH_REFUSED bob password\n");
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	expect_str(&r, "publickey");
	sbuf_free(&m);
	pair_free(p);

	/* keyboard-interactive likewise. */
	p = userauth_ready();
	struct sbuf b = {0};
	sbuf_put_u8(&b, 50);
	sbuf_put_cstring(&b, "carol");
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, "keyboard-interactive");
	sbuf_put_cstring(&b, "");
	sbuf_put_cstring(&b, "");
	tc_send_sbuf(&p->c, &b);
	run(p);
	sbuf_put_u8(&p->log, 0);
	assert_string_equal((const char *)p->log.data, "AUTH_REFUSED carol keyboard-interactive\n");
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	assert_false(ssh_authenticated(p->s));
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* The refusal the engine reports for the next request: FAILURE and AUTH_REFUSED with text. */
static void expect_refused(struct pair *p, const char *user, const char *method, const char *why)
{
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;

	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REFUSED);
	assert_string_equal(ev.user, user);
	assert_string_equal(ev.method, method);
	assert_string_equal(ev.text, why);
	expect_no_event(p);
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	expect_str(&r, "publickey");
	sbuf_free(&m);
	expect_no_msg(p);
}

/* A USERAUTH_REQUEST with the given user, method and method-specific bytes. */
static void send_auth(struct pair *p, const uint8_t *user, size_t ulen, const char *method,
		      const struct sbuf *rest)
{
	struct sbuf b = {0};

	sbuf_put_u8(&b, 50);
	sbuf_put_string(&b, user, ulen);
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, method);
	if (rest)
		sbuf_put(&b, rest->data, rest->len);
	tc_send_sbuf(&p->c, &b);
}

/* A publickey request: has_sig, algorithm, key blob, [signature]. */
static void pk_fields(struct sbuf *b, bool has_sig, const char *alg, const uint8_t *blob,
		      size_t bloblen)
{
	sbuf_put_u8(b, has_sig);
	sbuf_put_cstring(b, alg);
	sbuf_put_string(b, blob, bloblen);
}

/* Every request the engine refuses on its own is reported, so the host counts it: none after
 * the first request, other methods, bad user names, keys it can't take, algorithms that don't
 * fit the key. A login still works afterwards. */
static void test_auth_refusals_reported(void **state)
{
	struct pair *p = userauth_ready();
	struct sbuf rest = {0}, m;
	struct sreader r;
	size_t bl;
	const uint8_t *blob = ssh_key_blob(user_key, &bl);
	char longname[301];
	(void)state;

	tc_auth_none(&p->c, "alice");
	run(p);
	assert_int_equal(p->log.len, 0); /* the opening question: not counted */
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);

	tc_auth_none(&p->c, "alice");
	expect_refused(p, "alice", "none", "none");
	tc_auth_password(&p->c, "alice", "secret");
	expect_refused(p, "alice", "password", "method not supported");
	tc_auth_query(&p->c, "alice", user_key, "ecdsa-sha2-nistp256");
	expect_refused(p, "alice", "publickey", "algorithm mismatch");
	tc_auth_query(&p->c, "alice", user_key, "ssh-rsa");
	expect_refused(p, "alice", "publickey", "algorithm mismatch");

	pk_fields(&rest, false, "ssh-ed25519", blob, bl - 1); /* a key cut short */
	send_auth(p, (const uint8_t *)"alice", 5, "publickey", &rest);
	expect_refused(p, "alice", "publickey", "key refused");
	sbuf_reset(&rest);
	pk_fields(&rest, false, "ssh-dss", (const uint8_t *)"\0\0\0\7ssh-dss", 11);
	send_auth(p, (const uint8_t *)"alice", 5, "publickey", &rest);
	expect_refused(p, "alice", "publickey", "key refused");

	send_auth(p, (const uint8_t *)"ali\0ce", 6, "none", NULL);
	expect_refused(p, "(invalid)", "none", "bad user name");
	memset(longname, 'u', 300);
	longname[300] = '\0';
	send_auth(p, (const uint8_t *)longname, 300, "none", NULL);
	longname[256] = '\0'; /* reported cut short */
	expect_refused(p, longname, "none", "bad user name");
	struct sbuf b = {0}; /* a method name with a NUL */
	sbuf_put_u8(&b, 50);
	sbuf_put_cstring(&b, "alice");
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_string(&b, "pass\0word", 9);
	tc_send_sbuf(&p->c, &b);
	expect_refused(p, "alice", "(invalid)", "method not supported");

	assert_int_equal(p->disconnects, 0);
	sbuf_free(&rest);
	auth_signed_ok(p);
	pair_free(p);
}

/* A malformed request is reported (and so counted), then ends the session, as OpenSSH's
 * fatal "parse packet" does: missing fields, or bytes after the last one. */
static void check_malformed(const char *method, const struct sbuf *rest)
{
	struct pair *p = userauth_ready();
	struct ssh_event ev;

	send_auth(p, (const uint8_t *)"alice", 5, method, rest);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REFUSED);
	assert_string_equal(ev.user, "alice");
	assert_string_equal(ev.method, method);
	assert_string_equal(ev.text, "malformed");
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_string_equal(p->disc_text, "bad USERAUTH_REQUEST");
	pair_free(p);
}

static void test_auth_malformed_requests(void **state)
{
	struct sbuf rest = {0}, data = {0};
	size_t bl, siglen;
	const uint8_t *blob = ssh_key_blob(user_key, &bl);
	uint8_t *sig;
	(void)state;

	sbuf_put_u8(&rest, 0);
	check_malformed("none", &rest); /* a byte after the method */
	sbuf_reset(&rest);
	sbuf_put_u8(&rest, 0);
	sbuf_put_cstring(&rest, "ssh-ed25519");
	check_malformed("publickey", &rest); /* no key blob */
	sbuf_reset(&rest);
	pk_fields(&rest, false, "ssh-ed25519", blob, bl);
	sbuf_put_u8(&rest, 0);
	check_malformed("publickey", &rest); /* a query with a byte after the key */
	sbuf_reset(&rest);
	pk_fields(&rest, true, "ssh-ed25519", blob, bl);
	check_malformed("publickey", &rest); /* signed, no signature */

	/* A good signature with a byte after it. */
	struct pair *p = userauth_ready();
	tc_auth_sign_data(&p->c, &data, "alice", "ssh-ed25519", blob, bl);
	assert_int_equal(ssh_key_sign(user_key, NULL, data.data, data.len, &sig, &siglen), 0);
	pair_free(p);
	sbuf_put_string(&rest, sig, siglen);
	sbuf_put_u8(&rest, 0);
	check_malformed("publickey", &rest);
	free(sig);
	sbuf_free(&data);
	sbuf_free(&rest);
}

/* The first request fixes the user and the service; another one ends the session (OpenSSH:
 * "Change of username or service not allowed"). A request refused for a bad user name fixes
 * nothing. */
static void test_auth_user_or_service_change(void **state)
{
	struct pair *p = userauth_ready();
	struct sbuf m, q = {0};
	struct sreader r;
	(void)state;

	send_auth(p, (const uint8_t *)"b\0b", 3, "none", NULL);
	expect_refused(p, "(invalid)", "none", "bad user name");
	tc_auth_none(&p->c, "alice");
	run(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	tc_auth_signed(&p->c, "bob", user_key, NULL);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_false(ssh_authenticated(p->s));
	pair_free(p);

	/* Another service than ssh-connection: refused; then ssh-connection is a change. */
	p = userauth_ready();
	sbuf_put_u8(&q, 50);
	sbuf_put_cstring(&q, "alice");
	sbuf_put_cstring(&q, "ssh-other");
	sbuf_put_cstring(&q, "none");
	tc_send_sbuf(&p->c, &q);
	expect_refused(p, "alice", "none", "wrong service");
	assert_int_equal(p->disconnects, 0);
	tc_auth_signed(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	assert_false(ssh_authenticated(p->s));
	pair_free(p);

	/* ... and the other way round. */
	p = userauth_ready();
	tc_auth_query(&p->c, "alice", user_key, NULL);
	run(p);
	expect_msg(p, M_USERAUTH_PK_OK, &m, &r);
	sbuf_free(&m);
	sbuf_put_u8(&q, 50);
	sbuf_put_cstring(&q, "alice");
	sbuf_put_cstring(&q, "ssh-other");
	sbuf_put_cstring(&q, "none");
	tc_send_sbuf(&p->c, &q);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

/* Repeated ssh-userauth service requests are answered until authentication (paramiko sends
 * one per attempt, bcfe3e8); afterwards UNIMPLEMENTED. Other services end the session. */
static void test_service_requests(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct sbuf m;
	struct sreader r;
	(void)state;

	handshake(p);
	tc_service_request(&p->c, "ssh-userauth");
	tc_auth_none(&p->c, "alice");
	service_accepted(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_SERVICE_ACCEPT, &m, &r);
	expect_str(&r, "ssh-userauth");
	sbuf_free(&m);
	auth_signed_ok(p);
	uint32_t seq = p->c.tx_seq;
	tc_service_request(&p->c, "ssh-userauth");
	run(p);
	expect_msg(p, M_UNIMPLEMENTED, &m, &r);
	assert_int_equal(sreader_u32(&r), seq);
	sbuf_free(&m);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);

	p = pair_new(NULL, NULL);
	handshake(p);
	tc_service_request(&p->c, "ssh-connection");
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE);
	pair_free(p);

	/* Before the key exchange is done it is a protocol error. */
	p = pair_new(NULL, NULL);
	p->client_err_ok = true;
	tc_start(&p->c);
	uint8_t sr[] = {5, 0, 0, 0, 12, 's', 's', 'h', '-', 'u', 's', 'e', 'r', 'a', 'u', 't', 'h'};
	tc_send_now(&p->c, sr, sizeof(sr));
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

/* A signature by another key, and a rejection by the caller: FAILURE, not SUCCESS. */
static void test_auth_bad_signature_and_reject(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m, data = {0}, b = {0};
	struct sreader r;
	size_t bl, siglen;
	uint8_t *sig;
	(void)state;

	handshake(p);
	service_accepted(p);

	/* user_key's blob, other_key's signature. */
	const uint8_t *blob = ssh_key_blob(user_key, &bl);
	tc_auth_sign_data(&p->c, &data, "alice", "ssh-ed25519", blob, bl);
	assert_int_equal(ssh_key_sign(other_key, NULL, data.data, data.len, &sig, &siglen), 0);
	sbuf_put(&b, data.data + 36, data.len - 36);
	sbuf_put_string(&b, sig, siglen);
	free(sig);
	sbuf_free(&data);
	tc_send_sbuf(&p->c, &b);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ev.has_sig);
	assert_false(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s); /* even if the caller says yes */
	assert_false(ssh_authenticated(p->s));
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);

	/* The caller rejects a good one. */
	tc_auth_signed(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ssh_auth_verify(p->s));
	ssh_auth_reject(p->s);
	assert_false(ssh_authenticated(p->s));
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);

	/* Wrong algorithm name for the key: refused before the caller hears of it. */
	tc_auth_query(&p->c, "alice", user_key, "ecdsa-sha2-nistp256");
	run(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	/* (Another service than ssh-connection: test_auth_user_or_service_change.) */
	assert_int_equal(p->disconnects, 0);
	auth_signed_ok(p);
	pair_free(p);
}

/* Nothing is verified before the host asks (ssh.h: look the key up, then ssh_auth_verify):
 * a well-signed request answered with ssh_auth_accept alone is no login; ssh_auth_verify
 * checks once and then repeats its verdict; it is false for a query and when nothing is
 * pending; a request the host rejects is never checked. */
static void test_auth_verify_after_lookup(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	(void)state;

	handshake(p);
	service_accepted(p);
	assert_false(ssh_auth_verify(p->s)); /* nothing pending */

	tc_auth_signed(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ev.has_sig);
	ssh_auth_accept(p->s); /* not verified: FAILURE */
	assert_false(ssh_authenticated(p->s));
	assert_false(ssh_auth_verify(p->s)); /* answered: nothing pending */
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);

	/* Rejected without a look at the signature. */
	tc_auth_signed(&p->c, "alice", other_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_false(p->s->auth_checked);
	assert_true(p->s->auth_signed.len > 0);
	ssh_auth_reject(p->s);
	assert_int_equal(p->s->auth_signed.len, 0);
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);

	/* A query: nothing to verify; accept still sends PK_OK. */
	tc_auth_query(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_false(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s);
	s2c(p);
	expect_msg(p, M_USERAUTH_PK_OK, &m, &r);
	sbuf_free(&m);

	/* Verified once: the signed data is dropped and the verdict kept. */
	tc_auth_signed(&p->c, "alice", user_key, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ssh_auth_verify(p->s));
	assert_true(p->s->auth_checked);
	assert_int_equal(p->s->auth_signed.len, 0);
	assert_true(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s);
	assert_true(ssh_authenticated(p->s));
	s2c(p);
	expect_msg(p, M_USERAUTH_SUCCESS, &m, &r);
	sbuf_free(&m);
	assert_int_equal(p->disconnects, 0);
	pair_free(p);
}

/* Connection-layer messages before authentication end the session. */
static void test_conn_before_auth_disconnects(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	(void)state;

	handshake(p);
	tc_service_request(&p->c, "ssh-userauth");
	tc_open_direct(&p->c, 1, 1000, 1000, "h", 1, "o", 1);
	feed(p);
	expect_disconnect(p, SSH_DISCONNECT_PROTOCOL_ERROR);
	pair_free(p);
}

static EVP_PKEY *rsa_pkey; /* made by the first test that needs it, freed in main */

static EVP_PKEY *rsa_key(void)
{
	if (rsa_pkey == NULL)
		rsa_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(rsa_pkey);
	return rsa_pkey;
}

static void rsa_blob(struct sbuf *b)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t buf[512];

	assert_int_equal(EVP_PKEY_get_bn_param(rsa_key(), OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(rsa_key(), OSSL_PKEY_PARAM_RSA_E, &e), 1);
	sbuf_put_cstring(b, "ssh-rsa");
	int el = BN_bn2bin(e, buf);
	tc_put_mpint(b, buf, (size_t)el);
	int nl = BN_bn2bin(n, buf);
	tc_put_mpint(b, buf, (size_t)nl);
	BN_free(n);
	BN_free(e);
}

/* A publickey request for the RSA key signed by OpenSSL directly with alg/md. */
static void rsa_signed(struct pair *p, const char *alg, const char *md)
{
	struct sbuf blob = {0}, data = {0}, sig = {0}, b = {0};
	uint8_t raw[512];
	size_t rawlen = sizeof(raw);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	rsa_blob(&blob);
	tc_auth_sign_data(&p->c, &data, "alice", alg, blob.data, blob.len);
	assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, rsa_key(), NULL), 1);
	assert_int_equal(EVP_DigestSign(ctx, raw, &rawlen, data.data, data.len), 1);
	EVP_MD_CTX_free(ctx);
	sbuf_put_cstring(&sig, alg);
	sbuf_put_string(&sig, raw, rawlen);
	sbuf_put(&b, data.data + 36, data.len - 36);
	sbuf_put_string(&b, sig.data, sig.len);
	tc_send_sbuf(&p->c, &b);
	sbuf_free(&blob);
	sbuf_free(&data);
	sbuf_free(&sig);
}

static void rsa_query(struct pair *p, const char *alg)
{
	struct sbuf blob = {0}, b = {0};

	rsa_blob(&blob);
	sbuf_put_u8(&b, 50);
	sbuf_put_cstring(&b, "alice");
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, "publickey");
	sbuf_put_u8(&b, 0);
	sbuf_put_cstring(&b, alg);
	sbuf_put_string(&b, blob.data, blob.len);
	tc_send_sbuf(&p->c, &b);
	sbuf_free(&blob);
}

/* SHA-1 "ssh-rsa" signatures are refused; rsa-sha2-256/512 work with the same key. */
static void test_auth_ssh_rsa_refused(void **state)
{
	struct pair *p = pair_new(NULL, NULL);
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;
	(void)state;

	handshake(p);
	service_accepted(p);
	p->auto_auth = false;
	sbuf_reset(&p->log);

	rsa_query(p, "ssh-rsa");
	rsa_signed(p, "ssh-rsa", "SHA1");
	run(p);
	/* Refused by the engine, and reported so that the caller counts them. */
	sbuf_put_u8(&p->log, 0);
	assert_string_equal((const char *)p->log.data,
			    "AUTH_REFUSED alice publickey\nAUTH_REFUSED alice publickey\n");
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	expect_no_msg(p);

	rsa_query(p, "rsa-sha2-256");
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_int_equal(ssh_key_type(ev.key), SSH_KEY_RSA);
	assert_false(ev.has_sig);
	ssh_auth_accept(p->s);
	s2c(p);
	expect_msg(p, M_USERAUTH_PK_OK, &m, &r);
	expect_str(&r, "rsa-sha2-256");
	sbuf_free(&m);

	/* A SHA-256 signature labelled rsa-sha2-512 does not verify. */
	rsa_signed(p, "rsa-sha2-512", "SHA256");
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ev.has_sig);
	assert_false(ssh_auth_verify(p->s));
	ssh_auth_reject(p->s);
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);

	rsa_signed(p, "rsa-sha2-512", "SHA512");
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s);
	assert_true(ssh_authenticated(p->s));
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_none_and_password),
		cmocka_unit_test(test_service_requests),
		cmocka_unit_test(test_auth_bad_signature_and_reject),
		cmocka_unit_test(test_auth_verify_after_lookup),
		cmocka_unit_test(test_auth_refusals_reported),
		cmocka_unit_test(test_auth_malformed_requests),
		cmocka_unit_test(test_auth_user_or_service_change),
		cmocka_unit_test(test_conn_before_auth_disconnects),
		cmocka_unit_test(test_auth_ssh_rsa_refused),
	};

	if (pair_globals_init() != 0)
		return 1;
	if (getenv("TEST_FILTER") != NULL) /* e.g. TEST_FILTER='test_rekey*' */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	EVP_PKEY_free(rsa_pkey);
	return rc;
}
