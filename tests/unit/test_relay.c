/* The socket relay on its own (relay.h): a fake client side (window, packets, EOF) and a
 * real loopback TCP target. Early bytes, a shut window, EOF each way, a slow target, a reset
 * while the window is shut, a failed write, drain after the client's CLOSE, done() once. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_env.c"
#include "net.h"
#include "relay.h"

#define BIG (1024 * 1024)
/* One loop step: long enough that the loop reaches epoll_wait even under valgrind (a 1 ms
 * guard timer can expire before the loop first polls). */
#define STEP_MS 10

struct fake {
	struct relay r;
	struct relay_batch batch;
	size_t space; /* the client's window */
	uint8_t scratch[16384];
	uint8_t *got;
	size_t got_len;
	size_t consumed;
	int eofs, dones;
	size_t eof_at; /* got_len when eof() came */
	bool release_in_done;
};

static size_t f_space(void *ctx)
{
	return ((struct fake *)ctx)->space;
}

static size_t f_reserve(void *ctx, struct iovec *iov, size_t max)
{
	struct fake *f = ctx;

	if (f->space == 0 || max == 0)
		return 0;
	iov[0].iov_base = f->scratch;
	iov[0].iov_len = f->space < sizeof(f->scratch) ? f->space : sizeof(f->scratch);
	return 1;
}

static void take(struct fake *f, const uint8_t *p, size_t n)
{
	assert_true(n <= f->space);
	assert_true(f->got_len + n <= 4 * BIG);
	memcpy(f->got + f->got_len, p, n);
	f->got_len += n;
	f->space -= n;
}

static void f_commit(void *ctx, size_t n)
{
	struct fake *f = ctx;

	take(f, f->scratch, n);
}

static size_t f_write(void *ctx, const uint8_t *p, size_t n)
{
	struct fake *f = ctx;
	size_t k = n < f->space ? n : f->space;

	take(f, p, k);
	return k;
}

static void f_eof(void *ctx)
{
	struct fake *f = ctx;

	assert_int_equal(f->eofs, 0);
	f->eofs++;
	f->eof_at = f->got_len;
}

static void f_consumed(void *ctx, size_t n)
{
	((struct fake *)ctx)->consumed += n;
}

static void f_done(void *ctx)
{
	struct fake *f = ctx;

	f->dones++;
	if (f->release_in_done)
		relay_release(&f->r);
}

static const struct relay_ops fake_ops = {
	.space = f_space,
	.reserve = f_reserve,
	.commit = f_commit,
	.write = f_write,
	.eof = f_eof,
	.consumed = f_consumed,
	.done = f_done,
};

/* A connected loopback TCP pair: *ours non-blocking (the relay's), *peer blocking. */
static void tcp_pair(int *ours, int *peer)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &len), 0);
	*ours = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*ours, (struct sockaddr *)&a, sizeof(a)), 0);
	*peer = accept(ls, NULL, NULL);
	assert_true(*peer >= 0);
	close(ls);
	assert_int_equal(net_set_nonblock(*ours), 0);
}

static struct fake *fake_start(struct env *e, size_t space, const char *early, int *peer)
{
	struct fake *f = calloc(1, sizeof(*f));
	int fd;

	f->got = malloc(4 * BIG);
	f->space = space;
	tcp_pair(&fd, peer);
	relay_init(&f->r, e->l, &fake_ops, f);
	relay_start(&f->r, fd, (const uint8_t *)early, early ? strlen(early) : 0);
	return f;
}

static void fake_free(struct fake *f)
{
	relay_release(&f->r);
	free(f->got);
	free(f);
}

/* Runs the loop in short steps until cond holds, for at most 5 s (valgrind is slow). */
#define RUN_UNTIL(e, cond)                                                                         \
	do {                                                                                       \
		for (int step_ = 0; step_ < 500 && !(cond); step_++)                               \
			run_for((e)->l, STEP_MS);                                                  \
		assert_true(cond);                                                                 \
	} while (0)

static void got_is(const struct fake *f, const char *s)
{
	assert_int_equal(f->got_len, strlen(s));
	assert_memory_equal(f->got, s, f->got_len);
}

static void test_early_bytes_then_eof(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 1000, "early", &peer);

	assert_int_equal(send(peer, "more", 4, 0), 4);
	shutdown(peer, SHUT_WR);
	RUN_UNTIL(e, f->eofs == 1);
	got_is(f, "earlymore");
	assert_int_equal(f->eofs, 1);
	assert_int_equal(f->eof_at, 9);
	assert_int_equal(f->dones, 0); /* the client side is still open */
	relay_client_eof(&f->r);
	assert_int_equal(f->dones, 1);
	char c;
	assert_int_equal(recv(peer, &c, 1, 0), 0); /* our EOF reached the target */
	close(peer);
	fake_free(f);
}

static void test_early_bytes_wait_for_a_shut_window(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 0, "abc", &peer);

	assert_int_equal(send(peer, "xyz", 3, 0), 3);
	run_for(e->l, 30);
	assert_int_equal(f->got_len, 0);
	f->space = 100;
	relay_resume(&f->r);
	RUN_UNTIL(e, f->got_len == 6);
	got_is(f, "abcxyz");
	close(peer);
	fake_free(f);
}

static void test_early_bytes_larger_than_the_window(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 2, "abcdef", &peer);

	assert_int_equal(send(peer, "XY", 2, 0), 2);
	run_for(e->l, 20);
	got_is(f, "ab");
	f->space = 2;
	relay_resume(&f->r);
	run_for(e->l, 20);
	got_is(f, "abcd");
	f->space = 100;
	relay_resume(&f->r);
	RUN_UNTIL(e, f->got_len == 8);
	got_is(f, "abcdefXY"); /* early bytes first, then what was read */
	close(peer);
	fake_free(f);
}

static void test_window_zero_holds_the_target(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 0, NULL, &peer);
	char buf[1000];

	memset(buf, 'q', sizeof(buf));
	assert_int_equal(send(peer, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	run_for(e->l, 30);
	assert_int_equal(f->got_len, 0);
	f->space = 600;
	relay_resume(&f->r);
	RUN_UNTIL(e, f->got_len == 600);
	run_for(e->l, 20);
	assert_int_equal(f->got_len, 600); /* exactly the window, never more */
	f->space = 1000;
	relay_resume(&f->r);
	RUN_UNTIL(e, f->got_len == 1000);
	close(peer);
	fake_free(f);
}

/* Client data in passes of 16 spans; the target reads nothing until the end. */
static void test_slow_target_gets_window_back_only_for_what_it_took(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 0, NULL, &peer);
	static uint8_t data[2 * BIG];
	size_t sent = 0, chunk = 32768;
	int small = 32768;

	/* Small socket buffers, so that 2 MiB can't all be taken while the target sleeps. */
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(f->r.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 4093);
	while (sent < sizeof(data)) {
		for (int k = 0; k < 16 && sent < sizeof(data); k++, sent += chunk)
			relay_queue(&f->r, &f->batch, data + sent, chunk);
		relay_batch_flush(&f->batch);
		run_for(e->l, STEP_MS);
	}
	assert_true(f->consumed < sizeof(data)); /* the socket buffers can't hold it all */
	assert_true(relay_pending(&f->r));
	uint8_t *in = malloc(sizeof(data));
	size_t n = 0;
	for (int step = 0; step < 2000 && n < sizeof(data); step++) {
		run_for(e->l, STEP_MS);
		ssize_t r = recv(peer, in + n, sizeof(data) - n, MSG_DONTWAIT);
		if (r > 0)
			n += (size_t)r;
	}
	assert_int_equal(n, sizeof(data));
	RUN_UNTIL(e, f->consumed == sizeof(data));
	assert_true(memcmp(in, data, sizeof(data)) == 0);
	assert_false(relay_pending(&f->r));
	free(in);
	close(peer);
	fake_free(f);
}

static void test_eof_each_way_then_done_once(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 100, NULL, &peer);
	char c;

	relay_client_eof(&f->r);
	run_for(e->l, 20);
	assert_int_equal(recv(peer, &c, 1, 0), 0);
	assert_int_equal(f->dones, 0);
	close(peer); /* the target's EOF */
	RUN_UNTIL(e, f->eofs == 1);
	assert_int_equal(f->dones, 1);
	relay_resume(&f->r);
	relay_client_eof(&f->r);
	run_for(e->l, 20);
	assert_int_equal(f->dones, 1);
	fake_free(f);
}

/* The client's CLOSE came with data still queued: it is handed over, then done(). */
static void test_drain_hands_over_then_done(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 100, NULL, &peer);
	static uint8_t data[4 * BIG];
	int small = 32768;

	/* Small socket buffers, so that the data can't all be taken while the target sleeps. */
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(f->r.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	memset(data, 'd', sizeof(data));
	for (size_t off = 0; off < sizeof(data); off += 65536) {
		relay_queue(&f->r, &f->batch, data + off, 65536);
		relay_batch_flush(&f->batch);
	}
	assert_true(relay_pending(&f->r));
	relay_drain(&f->r);
	assert_int_equal(f->dones, 0);
	size_t n = 0;
	char buf[65536];
	for (int step = 0; step < 2000 && f->dones == 0; step++) {
		run_for(e->l, STEP_MS);
		ssize_t r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0)
			n += (size_t)r;
	}
	/* The rest is in the kernel's buffers, on its way. */
	setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 3},
		   sizeof(struct timeval));
	while (n < sizeof(data)) {
		ssize_t r = recv(peer, buf, sizeof(buf), 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	assert_int_equal(n, sizeof(data)); /* every byte, even after the CLOSE */
	assert_int_equal(f->dones, 1);
	assert_int_equal(f->eofs, 0); /* nothing goes to a client that is gone */
	close(peer);
	fake_free(f);
}

static void reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The target sends 48 KiB and resets while the window is 16 KiB: all 48 KiB still arrive,
 * then EOF; the channel ends once the client's side ends too (as sshd). */
static void test_reset_while_the_window_is_shut_loses_nothing(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 16384, NULL, &peer);
	static char data[49152];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i % 251);
	assert_int_equal(send(peer, data, sizeof(data), 0), (ssize_t)sizeof(data));
	run_for(e->l, 50);
	reset(peer);
	run_for(e->l, 50);
	assert_int_equal(f->got_len, 16384);
	assert_int_equal(f->eofs, 0);
	f->space = 1 << 20;
	relay_resume(&f->r);
	RUN_UNTIL(e, f->eofs == 1);
	assert_int_equal(f->got_len, sizeof(data));
	assert_true(memcmp(f->got, data, sizeof(data)) == 0);
	assert_int_equal(f->eofs, 1);
	assert_int_equal(f->dones, 0);
	relay_client_eof(&f->r);
	assert_int_equal(f->dones, 1);
	fake_free(f);
}

/* A failed write drops client data (window handed back) but the target is still read. */
static void test_failed_write_ends_only_one_direction(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 0, NULL, &peer);
	static uint8_t data[65536];

	assert_int_equal(send(peer, "reply", 5, 0), 5);
	reset(peer);
	run_for(e->l, 30);
	for (int i = 0; i < 4; i++) {
		relay_queue(&f->r, &f->batch, data, sizeof(data));
		relay_batch_flush(&f->batch);
		run_for(e->l, 5);
	}
	assert_int_equal(f->consumed, 4 * sizeof(data)); /* the client is never stalled */
	assert_int_equal(f->dones, 0);
	f->space = 100;
	relay_resume(&f->r);
	RUN_UNTIL(e, f->dones == 1);
	got_is(f, "reply");
	assert_int_equal(f->eofs, 1);
	assert_int_equal(f->dones, 1); /* both directions over */
	fake_free(f);
}

static void test_release_inside_done_and_again(void **state)
{
	struct env *e = *state;
	int peer;
	struct fake *f = fake_start(e, 100, NULL, &peer);
	static uint8_t data[16];

	f->release_in_done = true;
	relay_client_eof(&f->r);
	close(peer);
	RUN_UNTIL(e, f->dones == 1);
	assert_int_equal(f->r.fd, -1);
	relay_queue(&f->r, &f->batch, data, sizeof(data)); /* ignored after release */
	assert_int_equal(f->batch.n, 0);
	relay_release(&f->r);
	relay_resume(&f->r);
	assert_int_equal(f->dones, 1);
	fake_free(f);
}

/* A relay released in the middle of a pass leaves no span or dirty entry behind. */
static void test_release_mid_pass_drops_spans(void **state)
{
	struct env *e = *state;
	int p1, p2;
	struct fake *a = fake_start(e, 100, NULL, &p1);
	struct fake *b = fake_start(e, 100, NULL, &p2);
	static uint8_t data[8] = "12345678";
	char buf[16];

	relay_queue(&a->r, &a->batch, data, 4);
	relay_queue(&b->r, &a->batch, data + 4, 4);
	relay_queue(&a->r, &a->batch, data, 4);
	relay_release(&a->r);
	relay_batch_flush(&a->batch);
	assert_int_equal(recv(p2, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "5678", 4);
	assert_int_equal(recv(p1, buf, sizeof(buf), MSG_DONTWAIT), 0); /* closed, nothing sent */
	close(p1);
	close(p2);
	fake_free(b); /* first: b's spans were on a's batch */
	fake_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_early_bytes_then_eof, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_early_bytes_wait_for_a_shut_window, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_early_bytes_larger_than_the_window, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_window_zero_holds_the_target, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(
			test_slow_target_gets_window_back_only_for_what_it_took, env_setup,
			env_teardown),
		cmocka_unit_test_setup_teardown(test_eof_each_way_then_done_once, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_drain_hands_over_then_done, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_reset_while_the_window_is_shut_loses_nothing,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_ends_only_one_direction,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_release_inside_done_and_again, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_release_mid_pass_drops_spans, env_setup,
						env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
