/* The event loop: level-triggered epoll, a binary min-heap of embedded timers and a FIFO of
 * deferred callbacks. One iteration is: expired timers, defers, epoll_wait, io callbacks,
 * defers. Nothing here allocates per fd or per timer; only loop_defer() allocates a node. */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "xmalloc.h"

#define LOOP_MAX_EVENTS 256

struct loop_defer_node {
	struct loop_defer_node *next;
	loop_defer_cb *cb;
	void *ctx;
};

struct loop {
	int epfd;
	bool stop;
	bool in_timers; /* running timer callbacks: see loop_timer_start() */
	uint64_t now_ms;
	struct loop_timer **heap;
	size_t heap_len;
	size_t heap_cap;
	struct loop_defer_node *defer_head;
	struct loop_defer_node *defer_tail;
	/* The batch being dispatched, so loop_io_stop() can drop its pending events. */
	struct epoll_event events[LOOP_MAX_EVENTS];
	int batch_len;
	int batch_pos;
};

static void loop_update_now(struct loop *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd == -1) {
		free(l);
		return NULL;
	}
	loop_update_now(l);
	return l;
}

static void loop_run_defers(struct loop *l);

/* Runs the defers still queued (they usually free memory), then releases the loop. Closes only
 * the epoll fd: registered fds belong to their owners. Armed timers are simply forgotten. */
void loop_free(struct loop *l)
{
	if (l == NULL) {
		return;
	}
	loop_run_defers(l);
	for (size_t i = 0; i < l->heap_len; i++) {
		l->heap[i]->heap_idx = SIZE_MAX;
	}
	free(l->heap);
	close(l->epfd);
	free(l);
}

static uint32_t loop_to_epoll(unsigned events)
{
	uint32_t ev = 0;

	if (events & LOOP_READ) {
		ev |= EPOLLIN;
	}
	if (events & LOOP_WRITE) {
		ev |= EPOLLOUT;
	}
	return ev;
}

static unsigned loop_from_epoll(uint32_t ev)
{
	unsigned events = 0;

	if (ev & EPOLLIN) {
		events |= LOOP_READ;
	}
	if (ev & EPOLLOUT) {
		events |= LOOP_WRITE;
	}
	if (ev & (EPOLLERR | EPOLLHUP)) {
		events |= LOOP_ERROR;
	}
	return events;
}

/* Registers fd with `events` (LOOP_READ|LOOP_WRITE). io must not be registered (stop it
 * first; a stop then start in the same batch is fine). Its previous contents are ignored, so
 * it needs no initialisation. Returns 0 or -errno (io left unregistered; -EEXIST when fd is
 * already registered). */
int loop_io_start(struct loop *l, struct loop_io *io, int fd, unsigned events, loop_io_cb *cb,
		  void *ctx)
{
	struct epoll_event ev = {.events = loop_to_epoll(events), .data.ptr = io};

	io->registered = false;
	io->fd = fd;
	io->events = events & (LOOP_READ | LOOP_WRITE);
	io->cb = cb;
	io->ctx = ctx;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		return -errno;
	}
	io->registered = true;
	return 0;
}

/* Changes the interest set of a registered io; no syscall when unchanged. Returns 0, -EINVAL
 * when io is not registered, or -errno from epoll_ctl. */
int loop_io_set(struct loop *l, struct loop_io *io, unsigned events)
{
	struct epoll_event ev = {.data.ptr = io};

	events &= LOOP_READ | LOOP_WRITE;
	if (!io->registered) {
		return -EINVAL;
	}
	if (events == io->events) {
		return 0;
	}
	ev.events = loop_to_epoll(events);
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1) {
		return -errno;
	}
	io->events = events;
	return 0;
}

/* Forgets any event for io still pending in the current batch, so neither a reused struct nor
 * a re-registration sees a stale event. */
static void io_forget(struct loop *l, struct loop_io *io)
{
	io->registered = false;
	for (int i = l->batch_pos; i < l->batch_len; i++) {
		if (l->events[i].data.ptr == io) {
			l->events[i].data.ptr = NULL;
		}
	}
}

/* Unregisters io. Must be called before the owner closes the fd (or use loop_io_close). */
void loop_io_stop(struct loop *l, struct loop_io *io)
{
	if (!io->registered) {
		return;
	}
	/* EBADF/ENOENT only mean the fd is already gone; nothing left to undo. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io_forget(l, io);
}

void loop_io_close(struct loop *l, struct loop_io *io, int fd)
{
	/* Closing the only descriptor of a file removes it from the epoll set: no DEL needed. */
	if (io->registered) {
		io_forget(l, io);
	}
	close(fd);
}

void loop_timer_init(struct loop_timer *t)
{
	t->when_ms = 0;
	t->heap_idx = SIZE_MAX;
	t->cb = NULL;
	t->ctx = NULL;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != SIZE_MAX;
}

static void heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (l->heap[parent]->when_ms <= t->when_ms) {
			break;
		}
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= l->heap_len) {
			break;
		}
		if (child + 1 < l->heap_len &&
		    l->heap[child + 1]->when_ms < l->heap[child]->when_ms) {
			child++;
		}
		if (t->when_ms <= l->heap[child]->when_ms) {
			break;
		}
		heap_place(l, i, l->heap[child]);
		i = child;
	}
	heap_place(l, i, t);
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	size_t i = t->heap_idx;

	if (i == SIZE_MAX) {
		return;
	}
	t->heap_idx = SIZE_MAX;
	l->heap_len--;
	if (i == l->heap_len) {
		return;
	}
	struct loop_timer *moved = l->heap[l->heap_len];
	heap_place(l, i, moved);
	heap_up(l, i);
	if (moved->heap_idx == i) {
		heap_down(l, i);
	}
}

/* (Re)arms t to fire once, ms after the cached loop time. A timer armed with 0 ms from a timer
 * callback fires on the next iteration, not in the same pass, so it cannot starve the loop. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms, loop_timer_cb *cb,
		      void *ctx)
{
	loop_timer_stop(l, t);
	if (ms == 0 && l->in_timers) {
		ms = 1;
	}
	t->when_ms = ms > UINT64_MAX - l->now_ms ? UINT64_MAX : l->now_ms + ms;
	t->cb = cb;
	t->ctx = ctx;
	if (l->heap_len == l->heap_cap) {
		l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 64;
		l->heap = xrealloc(l->heap, l->heap_cap * sizeof(*l->heap));
	}
	l->heap_len++;
	heap_place(l, l->heap_len - 1, t);
	heap_up(l, l->heap_len - 1);
}

/* Fires the timers that are due, earliest first. Each is disarmed before its callback so the
 * callback may re-arm it or free its owner (via loop_defer). */
static void loop_run_timers(struct loop *l)
{
	l->in_timers = true;
	while (!l->stop && l->heap_len > 0 && l->heap[0]->when_ms <= l->now_ms) {
		struct loop_timer *t = l->heap[0];
		loop_timer_stop(l, t);
		t->cb(l, t->ctx);
	}
	l->in_timers = false;
}

/* Milliseconds epoll_wait may sleep: 0 with work queued, -1 with no timer at all. */
static int loop_timeout(const struct loop *l)
{
	if (l->defer_head != NULL || l->stop) {
		return 0;
	}
	if (l->heap_len == 0) {
		return -1;
	}
	uint64_t when = l->heap[0]->when_ms;
	if (when <= l->now_ms) {
		return 0;
	}
	return when - l->now_ms > INT_MAX ? INT_MAX : (int)(when - l->now_ms);
}

void loop_defer(struct loop *l, loop_defer_cb *cb, void *ctx)
{
	struct loop_defer_node *n = xmalloc(sizeof(*n));

	n->next = NULL;
	n->cb = cb;
	n->ctx = ctx;
	if (l->defer_tail != NULL) {
		l->defer_tail->next = n;
	} else {
		l->defer_head = n;
	}
	l->defer_tail = n;
}

/* Runs queued defers in FIFO order, including those queued by defers while running. */
static void loop_run_defers(struct loop *l)
{
	struct loop_defer_node *n;

	while ((n = l->defer_head) != NULL) {
		l->defer_head = n->next;
		if (l->defer_head == NULL) {
			l->defer_tail = NULL;
		}
		loop_defer_cb *cb = n->cb;
		void *ctx = n->ctx;
		free(n);
		cb(l, ctx);
	}
}

uint64_t loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

/* Delivers one epoll batch. An entry whose io was stopped meanwhile has a NULL pointer; the
 * events are masked with the current interest in case a callback narrowed it. */
static void loop_dispatch(struct loop *l, int n)
{
	l->batch_len = n;
	for (l->batch_pos = 0; l->batch_pos < n && !l->stop; l->batch_pos++) {
		struct epoll_event *ev = &l->events[l->batch_pos];
		struct loop_io *io = ev->data.ptr;
		if (io == NULL || !io->registered) {
			continue;
		}
		unsigned events = loop_from_epoll(ev->events) & (io->events | LOOP_ERROR);
		if (events != 0) {
			io->cb(l, io, events);
		}
	}
	l->batch_len = 0;
	l->batch_pos = 0;
}

/* Runs until loop_stop(). Returns 0, or -errno when epoll_wait fails with something other
 * than EINTR. The stop request is cleared on return so the loop can be run again. */
int loop_run(struct loop *l)
{
	int ret = 0;

	while (!l->stop) {
		loop_update_now(l);
		loop_run_timers(l);
		loop_run_defers(l);
		if (l->stop) {
			break;
		}
		int n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, loop_timeout(l));
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			ret = -errno;
			break;
		}
		loop_update_now(l);
		loop_dispatch(l, n);
		loop_run_defers(l);
	}
	l->stop = false;
	return ret;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
