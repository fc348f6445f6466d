/* Unit tests for the TLS transport (src/transport/tls.c) on a socketpair with small socket
 * buffers, a real OpenSSL client on the other end: the records of one write are held when the
 * socket is full, unsent() counts them, the next write waits for them, and the socket's
 * readiness sends them; a megabyte arrives intact through a reader that keeps stopping; shut
 * ends the stream without a close_notify. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* OpenSSL's headers before cmocka's, which redefines what they use. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cmocka.h>

#include "loop_env.c"

#include "loop.h"
#include "net.h"
#include "transport/tcp.h"
#include "transport/tls.h"

#define CHUNK (64 * 1024)
#define TOTAL (16 * CHUNK)

struct rig {
	struct loop *l;
	SSL_CTX *server_ctx, *client_ctx;
	struct transport *t; /* the server's TLS transport */
	SSL *client;
	int cfd;
	struct loop_io cio;
	bool client_reads; /* the client drains its socket when it is readable */
	bool handshaken;   /* the owner has had its first callback */
	unsigned owner_events;
	size_t sent, got; /* bytes the owner wrote / the client read */
	bool mismatch;	  /* a byte the client read was not the one written there */
	char dir[32];
};

static uint8_t byte_at(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

/* A P-256 key and a self-signed certificate in a fresh directory, as the server's files. */
static void make_cert(struct rig *r, char *cert, char *key, size_t len)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	snprintf(r->dir, sizeof(r->dir), "/tmp/alknet-tlsXXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(cert, len, "%s/cert.pem", r->dir);
	snprintf(key, len, "%s/key.pem", r->dir);
	assert_non_null(pk);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, pk);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	FILE *f = fopen(cert, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static void owner_cb(void *ctx, unsigned events)
{
	struct rig *r = ctx;

	r->owner_events |= events;
	if (!r->handshaken) {
		r->handshaken = true;
		loop_stop(r->l);
	}
}

/* The client: finishes its handshake, then reads (and checks) whatever has arrived. */
static void client_cb(struct loop *l, struct loop_io *io, unsigned events)
{
	struct rig *r = io->ctx;
	uint8_t buf[16384];

	(void)l;
	(void)events;
	if (!SSL_is_init_finished(r->client)) {
		int e = SSL_get_error(r->client, SSL_do_handshake(r->client));
		assert_true(e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE);
		loop_io_set(r->l, &r->cio, e == SSL_ERROR_WANT_WRITE ? LOOP_WRITE : LOOP_READ);
		return;
	}
	int n;
	while (r->client_reads && (n = SSL_read(r->client, buf, sizeof(buf))) > 0) {
		for (int i = 0; i < n; i++)
			r->mismatch |= buf[i] != byte_at(r->got + (size_t)i);
		r->got += (size_t)n;
	}
	if (r->got == TOTAL)
		loop_stop(r->l);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	char cert[64], key[64], err[256];
	int sv[2];

	make_cert(r, cert, key, sizeof(cert));
	r->server_ctx = tls_ctx_new(cert, key, err, sizeof(err));
	assert_non_null(r->server_ctx);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Little room between the two: the server's records must wait for the client. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){4096}, sizeof(int));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &(int){4096}, sizeof(int));
	net_set_nonblock(sv[0]);
	net_set_nonblock(sv[1]);
	r->l = loop_new();
	struct transport *tcp = transport_tcp_new(r->l, sv[0], NULL, NULL);
	assert_non_null(tcp);
	r->t = transport_tls_new(r->l, tcp, r->server_ctx, "test");
	transport_set_owner(r->t, owner_cb, r);
	r->client_ctx = SSL_CTX_new(TLS_client_method());
	r->client = SSL_new(r->client_ctx);
	SSL_set_fd(r->client, sv[1]);
	SSL_set_connect_state(r->client);
	r->cfd = sv[1];
	r->client_reads = true;
	assert_int_equal(loop_io_start(r->l, &r->cio, sv[1], LOOP_WRITE, client_cb, r), 0);
	run_for(r->l, 0);
	assert_true(r->handshaken);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;
	char path[64];

	if (r->t)
		transport_close(r->t);
	loop_io_stop(r->l, &r->cio);
	loop_free(r->l);
	SSL_free(r->client);
	ERR_clear_error(); /* a cut stream leaves the client's error, which the next test would see
			    */
	close(r->cfd);
	SSL_CTX_free(r->client_ctx);
	SSL_CTX_free(r->server_ctx);
	snprintf(path, sizeof(path), "%s/cert.pem", r->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", r->dir);
	unlink(path);
	rmdir(r->dir);
	free(r);
	return 0;
}

/* Writes the next bytes of the pattern; returns what transport_write returned. */
static ssize_t owner_write(struct rig *r, size_t len)
{
	static uint8_t buf[CHUNK];

	for (size_t i = 0; i < len; i++)
		buf[i] = byte_at(r->sent + i);
	ssize_t n = transport_write(r->t, buf, len);
	if (n > 0)
		r->sent += (size_t)n;
	return n;
}

static void test_full_socket_holds_records(void **state)
{
	struct rig *r = *state;

	r->client_reads = false;
	loop_io_set(r->l, &r->cio, 0);
	/* One write is taken whole, as records; the socket holds only a few KiB of them. */
	assert_int_equal(owner_write(r, CHUNK), CHUNK);
	size_t held = transport_unsent(r->t);
	assert_true(held > 0);
	assert_true(held < CHUNK + 1024);
	/* The next write waits for them. */
	errno = 0;
	assert_int_equal(owner_write(r, CHUNK), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(transport_unsent(r->t), held);
	/* The client reads: the socket drains, the held records go, the owner is told. */
	r->owner_events = 0;
	r->client_reads = true;
	loop_io_set(r->l, &r->cio, LOOP_READ);
	run_for(r->l, 500);
	assert_int_equal(transport_unsent(r->t), 0);
	assert_true(r->owner_events & TRANSPORT_WRITE);
	assert_int_equal(r->got, CHUNK);
	assert_false(r->mismatch);
}

/* The owner writes whenever it may; the client reads in bursts with pauses between. */
static void pump_cb(struct loop *l, void *ctx);

static void pump(struct rig *r)
{
	while (r->sent < TOTAL) {
		size_t len = TOTAL - r->sent < CHUNK ? TOTAL - r->sent : CHUNK;
		ssize_t n = owner_write(r, len);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
	}
	transport_want(r->t, r->sent < TOTAL ? TRANSPORT_WRITE : 0);
}

static void pump_owner_cb(void *ctx, unsigned events)
{
	struct rig *r = ctx;

	assert_false(events & TRANSPORT_ERROR);
	if (events & TRANSPORT_WRITE)
		pump(r);
}

static struct loop_timer pause_timer;

static void pump_cb(struct loop *l, void *ctx)
{
	struct rig *r = ctx;

	r->client_reads = !r->client_reads; /* 2 ms reading, 2 ms not */
	loop_io_set(r->l, &r->cio, r->client_reads ? LOOP_READ : 0);
	loop_timer_start(l, &pause_timer, 2, pump_cb, r);
}

static void test_megabyte_through_a_stopping_reader(void **state)
{
	struct rig *r = *state;

	transport_set_owner(r->t, pump_owner_cb, r);
	loop_timer_init(&pause_timer);
	loop_timer_start(r->l, &pause_timer, 2, pump_cb, r);
	pump(r);
	run_for(r->l, 0);
	loop_timer_stop(r->l, &pause_timer);
	assert_int_equal(r->sent, TOTAL);
	assert_int_equal(r->got, TOTAL);
	assert_false(r->mismatch);
	assert_int_equal(transport_unsent(r->t), 0);
}

/* Closing with records held: nothing waits and nothing leaks (ASan, valgrind). */
static void test_close_with_records_held(void **state)
{
	struct rig *r = *state;

	r->client_reads = false;
	loop_io_set(r->l, &r->cio, 0);
	assert_int_equal(owner_write(r, CHUNK), CHUNK);
	assert_true(transport_unsent(r->t) > 0);
	transport_close(r->t);
	r->t = NULL;
	run_for(r->l, 10);
	/* Closing does not wait for the reader: the socket took less than a record, the rest is
	 * dropped, and the client finds the end of the stream. */
	r->client_reads = true;
	client_cb(r->l, &r->cio, LOOP_READ);
	assert_int_equal(r->got, 0);
	char c;
	assert_int_equal(recv(r->cfd, &c, 1, 0), 0);
}

/* shut: what is written before goes out, then the stream ends with no close_notify, before
 * or at close (nginx's quiet shutdown after a timeout). */
static void test_shut_sends_no_close_notify(void **state)
{
	struct rig *r = *state;
	uint8_t buf[64];

	loop_io_stop(r->l, &r->cio); /* the client reads below, by hand (a hang-up would wake it) */
	assert_int_equal(owner_write(r, 10), 10);
	transport_shut(r->t);
	transport_close(r->t);
	r->t = NULL;
	run_for(r->l, 10);
	assert_int_equal(SSL_read(r->client, buf, sizeof(buf)), 10);
	int n = SSL_read(r->client, buf, sizeof(buf));
	assert_true(n <= 0);
	/* A close_notify would be SSL_ERROR_ZERO_RETURN; a cut stream is an error. */
	assert_int_not_equal(SSL_get_error(r->client, n), SSL_ERROR_ZERO_RETURN);
	assert_false(SSL_get_shutdown(r->client) & SSL_RECEIVED_SHUTDOWN);
}

int main(void)
{
	/* The client answers a cut-off stream with an alert to a closed socket, as the server
	 * would without its own SIG_IGN. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shut_sends_no_close_notify, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(test_full_socket_holds_records, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(test_megabyte_through_a_stopping_reader, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(test_close_with_records_held, rig_setup,
						rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
