/* sshflood: a hostile SSH client for the end-to-end tests (tests/e2e/test_flood.py). It does
 * the key exchange with the unit tests' SSH client (tests/unit/sshtest_client.h), optionally
 * logs in, then sends COUNT messages of one kind as fast as the server takes them and never
 * reads a byte more. The abuse shapes real clients can't produce:
 *
 *   sshflood PORT MODE COUNT HOLD_S [KEY USER]
 *
 *   unknown    message number 200 before login (each earns UNIMPLEMENTED)
 *   service    SERVICE_REQUEST ssh-userauth, again and again
 *   none       USERAUTH_REQUEST "none"
 *   badrsa     publickey requests with a made-up RSA key (3072-bit modulus, 3070-bit exponent)
 *              and a random signature, each key different
 *   mismatch   publickey queries whose algorithm doesn't match the key (ed25519 key, rsa alg)
 *   global     after logging in with KEY as USER: GLOBAL_REQUEST want_reply
 *   method     USERAUTH_REQUEST with the user name $SSHFLOOD_USER and the method name
 *              $SSHFLOOD_METHOD (newlines, escapes: for the log tests)
 *
 * After sending (or when the server stops taking bytes for HOLD_S seconds) it holds the
 * connection for HOLD_S seconds without reading, then prints one line:
 *   sent=N closed=0|1 seconds=S
 * closed=1 when the server closed the connection (a write failed or EOF was seen). Connects
 * to 127.0.0.1 from SSHFLOOD_SRC (default 127.0.0.1). Exit 0, or 2 on a setup failure. */
#include <errno.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "hostkey.h"
#include "ssh/buf.h"
#include "ssh/key.h"
#include "sshtest_client.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port)
{
	const char *src = getenv("SSHFLOOD_SRC");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in b = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	inet_pton(AF_INET, src ? src : "127.0.0.1", &b.sin_addr);
	if (fd == -1 || bind(fd, (struct sockaddr *)&b, sizeof(b)) == -1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
		return -1;
	return fd;
}

/* Writes c->out fully (blocking), then reads and feeds until want() holds. */
static int pump_until(int fd, struct tc *c, bool (*want)(struct tc *), double deadline)
{
	uint8_t buf[65536];

	while (!want(c)) {
		while (c->out.len > 0) {
			ssize_t n = write(fd, c->out.data, c->out.len);
			if (n <= 0)
				return -1;
			tc_out_consume(c, (size_t)n);
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (now_s() > deadline || poll(&p, 1, 100) == -1)
			return -1;
		if (!(p.revents & POLLIN))
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0 || tc_input(c, buf, (size_t)n) != 0)
			return -1;
	}
	return 0;
}

static bool kexed(struct tc *c)
{
	return c->kex_count >= 1 && !c->in_kex;
}

/* The next queued message has number msg (others are dropped); false until one arrives. */
static uint8_t want_msg;
static bool got_msg(struct tc *c)
{
	struct sbuf m = {0};

	while (tc_pop(c, &m)) {
		bool hit = m.len > 0 && m.data[0] == want_msg;
		sbuf_free(&m);
		if (hit)
			return true;
	}
	return false;
}

static int login(int fd, struct tc *c, const char *keyfile, const char *user)
{
	struct ssh_key *k = NULL;
	char err[200];

	if (ssh_key_load_private(keyfile, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "sshflood: %s: %s\n", keyfile, err);
		return -1;
	}
	tc_service_request(c, "ssh-userauth");
	tc_auth_signed(c, user, k, NULL);
	want_msg = 52; /* USERAUTH_SUCCESS */
	int r = pump_until(fd, c, got_msg, now_s() + 10);
	ssh_key_free(k);
	return r;
}

/* A publickey request with a made-up RSA key and a random signature. */
static void badrsa(struct tc *c, unsigned i)
{
	uint8_t e[385], n[384], sig[384];
	struct sbuf blob = {0}, b = {0}, s = {0};

	RAND_bytes(e, sizeof(e));
	RAND_bytes(n, sizeof(n));
	RAND_bytes(sig, sizeof(sig));
	e[0] = 0x20; /* a 3070-bit exponent */
	e[sizeof(e) - 1] |= 1;
	n[0] |= 0x80;
	n[sizeof(n) - 1] |= 1;
	memcpy(n + 1, &i, sizeof(i)); /* a different key each time */
	sbuf_put_cstring(&blob, "ssh-rsa");
	tc_put_mpint(&blob, e + 1, sizeof(e) - 1);
	tc_put_mpint(&blob, n, sizeof(n));
	sbuf_put_cstring(&s, "rsa-sha2-256");
	sbuf_put_string(&s, sig, sizeof(sig));
	sbuf_put_u8(&b, 50);
	sbuf_put_cstring(&b, "flood");
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, "publickey");
	sbuf_put_u8(&b, 1);
	sbuf_put_cstring(&b, "rsa-sha2-256");
	sbuf_put_string(&b, blob.data, blob.len);
	sbuf_put_string(&b, s.data, s.len);
	tc_send_sbuf(c, &b);
	sbuf_free(&blob);
	sbuf_free(&s);
}

static void mismatch(struct tc *c, const struct ssh_key *k)
{
	tc_auth_query(c, "flood", k, "rsa-sha2-256");
}

static void custom_method(struct tc *c)
{
	const char *user = getenv("SSHFLOOD_USER"), *method = getenv("SSHFLOOD_METHOD");
	struct sbuf b = {0};

	sbuf_put_u8(&b, 50);
	sbuf_put_cstring(&b, user ? user : "flood");
	sbuf_put_cstring(&b, "ssh-connection");
	sbuf_put_cstring(&b, method ? method : "none");
	tc_send_sbuf(c, &b);
}

/* One message of the mode. */
static int queue_one(struct tc *c, const char *mode, unsigned i, const struct ssh_key *k)
{
	static const uint8_t unknown[] = {200, 1, 2, 3};

	if (strcmp(mode, "unknown") == 0)
		tc_send(c, unknown, sizeof(unknown));
	else if (strcmp(mode, "service") == 0)
		tc_service_request(c, "ssh-userauth");
	else if (strcmp(mode, "none") == 0)
		tc_auth_none(c, "flood");
	else if (strcmp(mode, "badrsa") == 0)
		badrsa(c, i);
	else if (strcmp(mode, "mismatch") == 0)
		mismatch(c, k);
	else if (strcmp(mode, "global") == 0)
		tc_global_request(c, "flood@test", true);
	else if (strcmp(mode, "method") == 0)
		custom_method(c);
	else
		return -1;
	return 0;
}

/* Sends c->out without blocking; false once the server closed or stopped taking bytes for
 * stall_s seconds. */
static bool send_out(int fd, struct tc *c, double stall_s, bool *closed)
{
	double since = now_s();

	while (c->out.len > 0) {
		ssize_t n = send(fd, c->out.data, c->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			tc_out_consume(c, (size_t)n);
			since = now_s();
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, 50);
			if (now_s() - since > stall_s)
				return false;
			continue;
		}
		*closed = true;
		return false;
	}
	return true;
}

/* Holds the connection for hold_s seconds without reading; notices a close (RST/EOF via
 * POLLHUP/POLLERR or a failing zero-byte probe is not reliable, so POLLRDHUP). */
static void hold(int fd, double hold_s, bool *closed)
{
	double end = now_s() + hold_s;

	while (!*closed && now_s() < end) {
		struct pollfd p = {.fd = fd, .events = POLLRDHUP};
		if (poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			*closed = true;
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: sshflood PORT MODE COUNT HOLD_S [KEY USER]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	const char *mode = argv[2];
	unsigned count = (unsigned)strtoul(argv[3], NULL, 10);
	double hold_s = atof(argv[4]);
	uint8_t seed[32] = {7};
	struct ssh_key *k = tc_ed25519_key(seed);
	struct tc c;
	int fd = dial(port);

	if (fd == -1) {
		perror("sshflood: connect");
		return 2;
	}
	tc_init(&c, NULL, NULL);
	tc_start(&c);
	if (pump_until(fd, &c, kexed, now_s() + 10) != 0 ||
	    (argc >= 7 && login(fd, &c, argv[5], argv[6]) != 0)) {
		fprintf(stderr, "sshflood: handshake failed: %s\n", c.err);
		return 2;
	}
	if (strcmp(mode, "none") == 0 || strcmp(mode, "badrsa") == 0 ||
	    strcmp(mode, "mismatch") == 0 || strcmp(mode, "method") == 0) {
		tc_service_request(&c, "ssh-userauth");
	}
	double t0 = now_s();
	bool closed = false;
	unsigned sent = 0;
	for (; sent < count; sent++) {
		if (queue_one(&c, mode, sent, k) != 0) {
			fprintf(stderr, "sshflood: unknown mode %s\n", mode);
			return 2;
		}
		if (c.out.len >= 32768 && !send_out(fd, &c, hold_s, &closed))
			break;
	}
	if (!closed)
		send_out(fd, &c, hold_s, &closed);
	double secs = now_s() - t0;
	hold(fd, hold_s, &closed);
	printf("sent=%u closed=%d seconds=%.3f\n", sent, closed ? 1 : 0, secs);
	close(fd);
	tc_free(&c);
	ssh_key_free(k);
	return 0;
}
