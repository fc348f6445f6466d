/* benchtool: the two loopback helpers of bench/run, in C so that they stay cheap next to the
 * servers being measured (two shared cores: every cycle the load generator burns is taken from
 * the server or the ssh client).
 *
 *   benchtool echo ADDR:PORT...
 *       Echo server on each address (port 0 = any). Prints "ready PORT..." once listening, then
 *       echoes every connection and holds it until the peer closes; after the peer's EOF it
 *       flushes and closes. Exits on SIGTERM/SIGINT, printing "accepted N" on stderr.
 *
 *   benchtool socks PROXY_ADDR:PORT TARGET_IPV4:PORT CONCURRENCY SECONDS [PAYLOAD_BYTES]
 *       SOCKS5 load generator: CONCURRENCY loops of connect → no-auth greeting → CONNECT to the
 *       target → PAYLOAD bytes (default 100) → read them echoed → close, for SECONDS. Prints one
 *       JSON line: ops, errors, elapsed_s, rate, p50_us, p90_us, p99_us, max_us, mean_us.
 *
 *   benchtool plain TARGET_IPV4:PORT CONCURRENCY SECONDS [PAYLOAD_BYTES]
 *       The same loop without SOCKS5 or SSH: connect straight to the target, echo, close. Its
 *       own CPU per connection is the kernel's cost of one TCP connection seen from the
 *       connecting side, which a server pays for every channel it opens to a target.
 *
 *   benchtool relay LISTEN_ADDR:PORT TARGET_ADDR:PORT
 *       Plain TCP relay without SSH: for each accepted connection, connects to the target and
 *       copies both ways through a 256 KiB buffer per direction (read, then write what the
 *       other side takes). Prints "ready PORT". Its CPU per GiB is the kernel's cost of moving
 *       a stream through one process on loopback, the part of a tunnel no cipher choice
 *       changes. Exits on SIGTERM/SIGINT.
 *
 * Only loopback addresses are accepted. Built by bench/run into build/bench/benchtool.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static bool plain_mode; /* benchtool plain: no SOCKS5 */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "benchtool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);
	if (p == NULL) {
		fprintf(stderr, "benchtool: out of memory\n");
		exit(1);
	}
	return p;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		die("getrlimit");
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

/* Parses "1.2.3.4:80" or "[::1]:80" into ss; refuses anything that is not loopback. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || (size_t)(colon - s) >= sizeof(host)) {
		return -1;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	int port = atoi(colon + 1);
	if (port < 0 || port > 65535) {
		return -1;
	}
	if (host[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		size_t hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']') {
			return -1;
		}
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) {
			return -1;
		}
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1 ||
	    (ntohl(a->sin_addr.s_addr) >> 24) != 127) {
		return -1;
	}
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return 0;
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---------------------------------------------------------------- echo server */

struct econn {
	char *pend; /* bytes read but not yet written back */
	size_t plen, poff;
	bool eof; /* peer sent FIN: close once pend is flushed */
	bool listener;
};

static struct econn *econns;
static long econn_max;
static int ep;
static unsigned long accepted;

static void ep_set(int fd, uint32_t ev, int op)
{
	struct epoll_event e = {.events = ev, .data.fd = fd};
	if (epoll_ctl(ep, op, fd, &e) == -1) {
		die("epoll_ctl");
	}
}

static void echo_close(int fd)
{
	free(econns[fd].pend);
	memset(&econns[fd], 0, sizeof(econns[fd]));
	close(fd);
}

static void echo_accept(int lfd)
{
	for (int i = 0; i < 256; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				fprintf(stderr, "benchtool: accept: %s\n", strerror(errno));
			}
			return;
		}
		if (fd >= econn_max) {
			close(fd);
			continue;
		}
		accepted++;
		set_nodelay(fd);
		ep_set(fd, EPOLLIN, EPOLL_CTL_ADD);
	}
}

/* Writes what is pending; returns true when all of it went out. */
static bool echo_flush(int fd)
{
	struct econn *c = &econns[fd];
	while (c->poff < c->plen) {
		ssize_t n = write(fd, c->pend + c->poff, c->plen - c->poff);
		if (n == -1) {
			if (errno == EAGAIN) {
				return false;
			}
			c->poff = c->plen; /* peer gone: drop it */
			c->eof = true;
			break;
		}
		c->poff += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->plen = c->poff = 0;
	return true;
}

static void echo_readable(int fd)
{
	static char buf[65536];
	struct econn *c = &econns[fd];
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			echo_close(fd);
			return;
		}
		if (n == -1) {
			return;
		}
		ssize_t w = write(fd, buf, (size_t)n);
		if (w == -1 && errno != EAGAIN) {
			echo_close(fd);
			return;
		}
		if (w < n) {
			size_t off = w > 0 ? (size_t)w : 0;
			c->plen = (size_t)n - off;
			c->poff = 0;
			c->pend = malloc(c->plen);
			if (c->pend == NULL) {
				die("malloc");
			}
			memcpy(c->pend, buf + off, c->plen);
			ep_set(fd, EPOLLOUT, EPOLL_CTL_MOD);
			return;
		}
	}
}

static void echo_writable(int fd)
{
	if (!echo_flush(fd)) {
		return;
	}
	if (econns[fd].eof) {
		echo_close(fd);
		return;
	}
	ep_set(fd, EPOLLIN, EPOLL_CTL_MOD);
}

static int echo_main(int argc, char **argv)
{
	econn_max = raise_nofile();
	econns = xcalloc((size_t)econn_max, sizeof(*econns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep == -1) {
		die("epoll_create1");
	}
	printf("ready");
	for (int i = 0; i < argc; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int one = 1;
		if (parse_addr(argv[i], &ss, &len) != 0) {
			fprintf(stderr, "benchtool: %s: not a loopback ADDR:PORT\n", argv[i]);
			return 2;
		}
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			die("socket");
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) == -1 || listen(fd, 4096) == -1) {
			die(argv[i]);
		}
		getsockname(fd, (struct sockaddr *)&ss, &len);
		printf(" %d",
		       ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						     : ((struct sockaddr_in6 *)&ss)->sin6_port));
		econns[fd].listener = true;
		ep_set(fd, EPOLLIN, EPOLL_CTL_ADD);
	}
	printf("\n");
	fflush(stdout);

	struct epoll_event evs[256];
	while (!stop_flag) {
		int n = epoll_wait(ep, evs, 256, 500);
		if (n == -1 && errno != EINTR) {
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (econns[fd].listener) {
				echo_accept(fd);
			} else if (evs[i].events & EPOLLOUT) {
				echo_writable(fd);
			} else {
				echo_readable(fd);
			}
		}
	}
	fprintf(stderr, "accepted %lu\n", accepted);
	return 0;
}

/* ---------------------------------------------------------------- SOCKS5 load generator */

enum sphase {
	SP_IDLE = 0,
	SP_CONNECTING = 1,
	SP_METHOD = 2, /* greeting sent, waiting for 05 00 */
	SP_REPLY = 3,  /* CONNECT sent, waiting for the reply */
	SP_ECHO = 4,   /* payload sent, waiting for it back */
};

struct slot {
	int fd;
	enum sphase phase;
	double t0;
	size_t got;
	uint8_t buf[512];
};

static struct sockaddr_storage proxy_ss, target_ss;
static socklen_t proxy_len;
static size_t payload_len = 100;
static uint8_t payload[4096];
static uint32_t *lat_us;
static size_t lat_n, lat_cap;
static unsigned long errors;
static char first_error[160];

static void slot_fail(struct slot *s, const char *why)
{
	errors++;
	if (first_error[0] == '\0') {
		snprintf(first_error, sizeof(first_error), "%s (phase %d, errno %s)", why,
			 (int)s->phase, strerror(errno));
	}
	close(s->fd);
	s->fd = -1;
	s->phase = SP_IDLE;
}

static void slot_start(struct slot *s, uint32_t idx)
{
	int fd = socket(proxy_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		die("socket");
	}
	set_nodelay(fd);
	s->fd = fd;
	s->t0 = now_s();
	s->got = 0;
	s->phase = SP_CONNECTING;
	struct epoll_event e = {.events = EPOLLOUT, .data.u32 = idx};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == -1) {
		die("epoll_ctl");
	}
	if (connect(fd, (struct sockaddr *)&proxy_ss, proxy_len) == -1 && errno != EINPROGRESS) {
		slot_fail(s, "connect");
	}
}

/* Sends a whole small message; these are far below the socket buffer, so a short write is an
 * error rather than a case to poll for. */
static bool send_all(struct slot *s, const void *p, size_t n)
{
	ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
	if (w != (ssize_t)n) {
		slot_fail(s, "send");
		return false;
	}
	return true;
}

static void want(struct slot *s, uint32_t idx, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.u32 = idx};
	epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e);
}

/* Reads into s->buf until it holds `need` bytes; returns true once it does. */
static bool read_upto(struct slot *s, size_t need)
{
	while (s->got < need) {
		ssize_t n = recv(s->fd, s->buf + s->got, need - s->got, 0);
		if (n == 0) {
			errno = 0;
			slot_fail(s, "closed early");
			return false;
		}
		if (n == -1) {
			if (errno != EAGAIN) {
				slot_fail(s, "recv");
			}
			return false;
		}
		s->got += (size_t)n;
	}
	return true;
}

static size_t socks_reply_len(const uint8_t *b)
{
	switch (b[3]) {
	case 1:
		return 10;
	case 4:
		return 22;
	case 3:
		return 7 + (size_t)b[4];
	default:
		return 0;
	}
}

static void slot_event(struct slot *s, uint32_t idx)
{
	uint8_t req[22];
	size_t rl;
	int err = 0;
	socklen_t el = sizeof(err);

	switch (s->phase) {
	case SP_CONNECTING:
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			errno = err;
			slot_fail(s, "connect");
			return;
		}
		if (plain_mode) {
			if (!send_all(s, payload, payload_len)) {
				return;
			}
			s->phase = SP_ECHO;
			want(s, idx, EPOLLIN);
			return;
		}
		if (!send_all(s, "\x05\x01\x00", 3)) {
			return;
		}
		s->phase = SP_METHOD;
		want(s, idx, EPOLLIN);
		return;
	case SP_METHOD:
		if (!read_upto(s, 2)) {
			return;
		}
		if (s->buf[0] != 5 || s->buf[1] != 0) {
			errno = 0;
			slot_fail(s, "socks method refused");
			return;
		}
		req[0] = 5, req[1] = 1, req[2] = 0;
		if (target_ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&target_ss;
			req[3] = 1;
			memcpy(req + 4, &a->sin_addr, 4);
			memcpy(req + 8, &a->sin_port, 2);
			rl = 10;
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&target_ss;
			req[3] = 4;
			memcpy(req + 4, &a->sin6_addr, 16);
			memcpy(req + 20, &a->sin6_port, 2);
			rl = 22;
		}
		if (!send_all(s, req, rl)) {
			return;
		}
		s->got = 0;
		s->phase = SP_REPLY;
		return;
	case SP_REPLY:
		if (!read_upto(s, 5)) {
			return;
		}
		if (s->buf[0] != 5 || s->buf[1] != 0 || (rl = socks_reply_len(s->buf)) == 0) {
			errno = 0;
			slot_fail(s, "socks connect refused");
			return;
		}
		if (!read_upto(s, rl)) {
			return;
		}
		if (!send_all(s, payload, payload_len)) {
			return;
		}
		s->got = 0;
		s->phase = SP_ECHO;
		return;
	case SP_ECHO:
		if (!read_upto(s, payload_len)) {
			return;
		}
		if (memcmp(s->buf, payload, payload_len) != 0) {
			errno = 0;
			slot_fail(s, "echo mismatch");
			return;
		}
		if (lat_n == lat_cap) {
			lat_cap = lat_cap ? lat_cap * 2 : 65536;
			lat_us = realloc(lat_us, lat_cap * sizeof(*lat_us));
			if (lat_us == NULL) {
				die("realloc");
			}
		}
		lat_us[lat_n++] = (uint32_t)((now_s() - s->t0) * 1e6);
		close(s->fd);
		s->fd = -1;
		s->phase = SP_IDLE;
		return;
	case SP_IDLE:
		return;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t pct(double p)
{
	if (lat_n == 0) {
		return 0;
	}
	size_t i = (size_t)(p * (double)(lat_n - 1) + 0.5);
	return lat_us[i];
}

static int socks_main(int argc, char **argv)
{
	socklen_t tl;
	/* plain TARGET CONC SECS [BYTES] is read as socks TARGET TARGET CONC SECS [BYTES] */
	char *plain_args[6];
	if (plain_mode && argc >= 1 && argc <= 5) {
		plain_args[0] = argv[0];
		memcpy(plain_args + 1, argv, (size_t)argc * sizeof(*argv));
		argv = plain_args;
		argc++;
	}
	if (argc < 4 || parse_addr(argv[0], &proxy_ss, &proxy_len) != 0 ||
	    parse_addr(argv[1], &target_ss, &tl) != 0) {
		fprintf(stderr,
			"usage: benchtool socks PROXY:PORT TARGET:PORT CONC SECONDS [BYTES]\n"
			"       benchtool plain TARGET:PORT CONC SECONDS [BYTES]\n");
		return 2;
	}
	int conc = atoi(argv[2]);
	double secs = atof(argv[3]);
	if (argc > 4) {
		payload_len = (size_t)atoi(argv[4]);
	}
	if (conc < 1 || conc > 4096 || secs <= 0 || payload_len < 1 || payload_len > 500) {
		fprintf(stderr, "benchtool socks: bad concurrency, duration or payload size\n");
		return 2;
	}
	for (size_t i = 0; i < payload_len; i++) {
		payload[i] = (uint8_t)('a' + i % 26);
	}
	raise_nofile();
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct slot *slots = xcalloc((size_t)conc, sizeof(*slots));
	double start = now_s(), deadline = start + secs, hard = deadline + 5, last = start;
	for (int i = 0; i < conc; i++) {
		slots[i].fd = -1;
		slot_start(&slots[i], (uint32_t)i);
	}
	struct epoll_event evs[256];
	for (;;) {
		double t = now_s();
		int active = 0;
		for (int i = 0; i < conc; i++) {
			if (slots[i].phase == SP_IDLE) {
				if (t < deadline && !stop_flag && !(errors > 1000 && lat_n == 0)) {
					slot_start(&slots[i], (uint32_t)i);
				}
			}
			active += slots[i].phase != SP_IDLE;
		}
		if (active == 0 || t > hard) {
			break;
		}
		int n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[evs[i].data.u32];
			size_t before = lat_n;
			slot_event(s, evs[i].data.u32);
			if (lat_n != before) {
				last = now_s();
			}
		}
	}
	unsigned long abandoned = 0;
	for (int i = 0; i < conc; i++) {
		if (slots[i].phase != SP_IDLE) {
			abandoned++;
			close(slots[i].fd);
		}
	}
	double elapsed = last - start;
	double sum = 0;
	for (size_t i = 0; i < lat_n; i++) {
		sum += lat_us[i];
	}
	qsort(lat_us, lat_n, sizeof(*lat_us), cmp_u32);
	printf("{\"ops\": %zu, \"errors\": %lu, \"abandoned\": %lu, \"elapsed_s\": %.4f, "
	       "\"rate\": %.1f, \"p50_us\": %u, \"p90_us\": %u, \"p99_us\": %u, \"max_us\": %u, "
	       "\"mean_us\": %.1f, \"first_error\": \"%s\"}\n",
	       lat_n, errors, abandoned, elapsed, elapsed > 0 ? (double)lat_n / elapsed : 0.0,
	       pct(0.50), pct(0.90), pct(0.99), lat_n ? lat_us[lat_n - 1] : 0,
	       lat_n ? sum / (double)lat_n : 0.0, first_error);
	return lat_n > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- relay */

#define RELAY_BUF (256 * 1024)

struct rside {
	int peer;     /* the other socket of the pair, -1 when unused */
	uint8_t *buf; /* read from this socket, not yet written to peer */
	size_t off, len;
	bool eof;
};
static struct rside *rsides;

static void relay_want(int fd)
{
	struct rside *me = &rsides[fd], *other = &rsides[me->peer];
	uint32_t ev = (!me->eof && me->len == 0 ? EPOLLIN : 0) | (other->len > 0 ? EPOLLOUT : 0);
	ep_set(fd, ev, EPOLL_CTL_MOD);
}

static void relay_close_pair(int fd)
{
	int peer = rsides[fd].peer;
	int fds[2] = {fd, peer};
	for (int i = 0; i < 2; i++) {
		free(rsides[fds[i]].buf);
		memset(&rsides[fds[i]], 0, sizeof(rsides[0]));
		rsides[fds[i]].peer = -1;
		close(fds[i]);
	}
}

/* Writes fd's pending bytes to its peer. Returns false if the pair was closed. */
static bool relay_push(int fd)
{
	struct rside *me = &rsides[fd];
	while (me->len > 0) {
		ssize_t w = send(me->peer, me->buf + me->off, me->len, MSG_NOSIGNAL);
		if (w > 0) {
			me->off += (size_t)w;
			me->len -= (size_t)w;
			continue;
		}
		if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
			break;
		}
		relay_close_pair(fd);
		return false;
	}
	if (me->len == 0) {
		me->off = 0;
		if (me->eof) {
			shutdown(me->peer, SHUT_WR);
		}
	}
	return true;
}

static void relay_readable(int fd)
{
	struct rside *me = &rsides[fd];
	if (me->len > 0 || me->eof) {
		return; /* a hang-up reported while this side waits for its peer */
	}
	ssize_t n = read(fd, me->buf, RELAY_BUF);
	if (n == 0) {
		me->eof = true;
	} else if (n > 0) {
		me->len = (size_t)n;
	} else if (errno != EAGAIN && errno != EINTR) {
		relay_close_pair(fd);
		return;
	}
	int peer = me->peer;
	if (!relay_push(fd)) {
		return;
	}
	if (me->eof && me->len == 0 && rsides[peer].eof && rsides[peer].len == 0) {
		relay_close_pair(fd);
		return;
	}
	relay_want(fd);
	relay_want(peer);
}

static void relay_accept(int lfd, const struct sockaddr_storage *target, socklen_t tlen)
{
	int a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (a == -1) {
		return;
	}
	int b = socket(target->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b == -1 || connect(b, (const struct sockaddr *)target, tlen) == -1 ||
	    fcntl(b, F_SETFL, O_NONBLOCK) == -1) {
		close(a);
		if (b != -1) {
			close(b);
		}
		return;
	}
	set_nodelay(a);
	set_nodelay(b);
	int fds[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		rsides[fds[i]].peer = fds[1 - i];
		rsides[fds[i]].buf = xcalloc(1, RELAY_BUF);
		ep_set(fds[i], EPOLLIN, EPOLL_CTL_ADD);
	}
}

static int relay_main(int argc, char **argv)
{
	struct sockaddr_storage lss, tss;
	socklen_t llen, tlen;
	int one = 1;
	if (argc != 2 || parse_addr(argv[0], &lss, &llen) != 0 ||
	    parse_addr(argv[1], &tss, &tlen) != 0) {
		fprintf(stderr, "usage: benchtool relay LISTEN_ADDR:PORT TARGET_ADDR:PORT\n");
		return 2;
	}
	long max = raise_nofile();
	rsides = xcalloc((size_t)max, sizeof(*rsides));
	ep = epoll_create1(EPOLL_CLOEXEC);
	int lfd = socket(lss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ep == -1 || lfd == -1) {
		die("socket");
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&lss, llen) == -1 || listen(lfd, 128) == -1) {
		die(argv[0]);
	}
	getsockname(lfd, (struct sockaddr *)&lss, &llen);
	printf("ready %d\n",
	       ntohs(lss.ss_family == AF_INET ? ((struct sockaddr_in *)&lss)->sin_port
					      : ((struct sockaddr_in6 *)&lss)->sin6_port));
	fflush(stdout);
	ep_set(lfd, EPOLLIN, EPOLL_CTL_ADD);
	struct epoll_event evs[64];
	while (!stop_flag) {
		int n = epoll_wait(ep, evs, 64, 500);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				relay_accept(lfd, &tss, tlen);
				continue;
			}
			if (rsides[fd].buf == NULL) {
				continue; /* closed earlier in this batch */
			}
			if (evs[i].events & EPOLLOUT) {
				int peer = rsides[fd].peer;
				if (!relay_push(peer)) {
					continue;
				}
				relay_want(fd);
				relay_want(peer);
			}
			if (rsides[fd].buf != NULL &&
			    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				relay_readable(fd);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
		return echo_main(argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "socks") == 0) {
		return socks_main(argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "relay") == 0) {
		return relay_main(argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "plain") == 0) {
		plain_mode = true;
		return socks_main(argc - 2, argv + 2);
	}
	fprintf(stderr,
		"usage: benchtool echo ADDR:PORT... | benchtool socks PROXY:PORT TARGET:PORT "
		"CONCURRENCY SECONDS [PAYLOAD_BYTES] | benchtool plain TARGET:PORT CONCURRENCY "
		"SECONDS [PAYLOAD_BYTES] | benchtool relay LISTEN:PORT TARGET:PORT\n");
	return 2;
}
