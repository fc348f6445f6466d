/* Unit tests for certificates in USERAUTH_REQUEST (src/ssh/userauth.c with key_cert.c): the
 * event lends the parsed certificate and its key, PK_OK echoes the certificate algorithm and
 * blob, the signature is checked with the certified key under the plain algorithm, and a
 * certificate under a plain algorithm (or the other way round) or a malformed one is refused
 * by the engine. The certificate is built here (user_key certified by other_key). */
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
#include "ssh/key_cert.h"
#include "ssh/ssh.h"

#define CERT_ALG "ssh-ed25519-cert-v01@openssh.com"

/* An ed25519 user certificate of user_key, serial 7, principal "alice", signed by other_key. */
static void cert_blob(struct sbuf *b)
{
	struct sbuf pr = {0};
	size_t kl, siglen;
	const uint8_t *kb = ssh_key_blob(user_key, &kl);
	uint8_t *sig;

	memset(b, 0, sizeof(*b));
	sbuf_put_cstring(b, CERT_ALG);
	sbuf_put_string(b, "nonce-nonce-nonce-nonce-nonce-no", 32);
	sbuf_put(b, kb + 4 + 11, kl - 4 - 11); /* after string "ssh-ed25519" */
	sbuf_put_u32(b, 0);
	sbuf_put_u32(b, 7);
	sbuf_put_u32(b, SSH_CERT_TYPE_USER);
	sbuf_put_cstring(b, "alice-id");
	sbuf_put_cstring(&pr, "alice");
	sbuf_put_string(b, pr.data, pr.len);
	sbuf_free(&pr);
	for (int i = 0; i < 2; i++)
		sbuf_put_u32(b, 0); /* valid after 0 */
	for (int i = 0; i < 2; i++)
		sbuf_put_u32(b, 0xffffffff); /* valid before forever */
	sbuf_put_string(b, "", 0);
	sbuf_put_string(b, "", 0);
	sbuf_put_string(b, "", 0);
	const uint8_t *cab = ssh_key_blob(other_key, &kl);
	sbuf_put_string(b, cab, kl);
	assert_int_equal(ssh_key_sign(other_key, NULL, b->data, b->len, &sig, &siglen), 0);
	sbuf_put_string(b, sig, siglen);
	free(sig);
}

/* A publickey request for blob under alg; signed by k with its plain algorithm when k. */
static void send_pk(struct pair *p, const char *alg, const struct sbuf *blob,
		    const struct ssh_key *k)
{
	struct sbuf data = {0}, b = {0};
	uint8_t *sig;
	size_t siglen;

	if (k == NULL) {
		sbuf_put_u8(&b, 50);
		sbuf_put_cstring(&b, "alice");
		sbuf_put_cstring(&b, "ssh-connection");
		sbuf_put_cstring(&b, "publickey");
		sbuf_put_u8(&b, 0);
		sbuf_put_cstring(&b, alg);
		sbuf_put_string(&b, blob->data, blob->len);
		tc_send_sbuf(&p->c, &b);
		return;
	}
	tc_auth_sign_data(&p->c, &data, "alice", alg, blob->data, blob->len);
	assert_int_equal(ssh_key_sign(k, NULL, data.data, data.len, &sig, &siglen), 0);
	sbuf_put(&b, data.data + 4 + 32, data.len - 4 - 32);
	sbuf_put_string(&b, sig, siglen);
	free(sig);
	sbuf_free(&data);
	tc_send_sbuf(&p->c, &b);
}

static struct pair *userauth_ready(void)
{
	struct pair *p = pair_new(NULL, NULL);

	handshake(p);
	service_accepted(p);
	sbuf_reset(&p->log);
	return p;
}

static void test_cert_query_and_login(void **state)
{
	struct pair *p = userauth_ready();
	struct ssh_event ev;
	struct sbuf blob, m;
	struct sreader r;
	size_t n;

	(void)state;
	cert_blob(&blob);
	send_pk(p, CERT_ALG, &blob, NULL);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_non_null(ev.cert);
	assert_false(ev.has_sig);
	assert_true(ssh_key_equal(ev.key, user_key));
	assert_true(ssh_key_equal(ev.cert->ca_key, other_key));
	assert_int_equal(ev.cert->serial, 7);
	assert_string_equal(ev.cert->key_id, "alice-id");
	assert_int_equal(ssh_cert_verify_ca(ev.cert), 0);
	ssh_auth_accept(p->s);
	s2c(p);
	expect_msg(p, M_USERAUTH_PK_OK, &m, &r);
	expect_str(&r, CERT_ALG);
	const uint8_t *echoed = sreader_string(&r, &n);
	assert_int_equal(n, blob.len);
	assert_memory_equal(echoed, blob.data, n);
	sbuf_free(&m);

	send_pk(p, CERT_ALG, &blob, user_key);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_true(ev.has_sig && ev.cert != NULL);
	assert_true(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s);
	assert_true(ssh_authenticated(p->s));
	s2c(p);
	expect_msg(p, M_USERAUTH_SUCCESS, &m, &r);
	sbuf_free(&m);
	sbuf_free(&blob);
	pair_free(p);
}

/* Signed by the CA's key instead of the certified one: no login. */
static void test_cert_signed_by_another_key(void **state)
{
	struct pair *p = userauth_ready();
	struct ssh_event ev;
	struct sbuf blob, m;
	struct sreader r;

	(void)state;
	cert_blob(&blob);
	send_pk(p, CERT_ALG, &blob, other_key);
	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REQUEST);
	assert_false(ssh_auth_verify(p->s));
	ssh_auth_accept(p->s);
	assert_false(ssh_authenticated(p->s));
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
	sbuf_free(&blob);
	pair_free(p);
}

static void expect_refused(struct pair *p, const char *why)
{
	struct ssh_event ev;
	struct sbuf m;
	struct sreader r;

	feed(p);
	expect_event(p, &ev, SSH_EV_AUTH_REFUSED);
	assert_string_equal(ev.text, why);
	s2c(p);
	expect_msg(p, M_USERAUTH_FAILURE, &m, &r);
	sbuf_free(&m);
}

/* Algorithm and blob must agree; a malformed certificate is a key the engine can't take. */
static void test_cert_refusals(void **state)
{
	struct pair *p = userauth_ready();
	struct sbuf blob, plain = {0};
	size_t kl;
	const uint8_t *kb = ssh_key_blob(user_key, &kl);

	(void)state;
	cert_blob(&blob);
	sbuf_put(&plain, kb, kl);
	send_pk(p, "ssh-ed25519", &blob, NULL);
	expect_refused(p, "algorithm mismatch");
	send_pk(p, "ecdsa-sha2-nistp256-cert-v01@openssh.com", &blob, NULL);
	expect_refused(p, "algorithm mismatch");
	send_pk(p, CERT_ALG, &plain, NULL);
	expect_refused(p, "algorithm mismatch");
	sbuf_put_u8(&blob, 0);
	send_pk(p, CERT_ALG, &blob, NULL);
	expect_refused(p, "key refused");
	blob.len -= 2;
	send_pk(p, CERT_ALG, &blob, NULL);
	expect_refused(p, "key refused");
	assert_int_equal(p->disconnects, 0);
	sbuf_free(&plain);
	sbuf_free(&blob);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_query_and_login),
		cmocka_unit_test(test_cert_signed_by_another_key),
		cmocka_unit_test(test_cert_refusals),
	};
	if (pair_globals_init() != 0)
		return 1;
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	pair_globals_free();
	return ret;
}
