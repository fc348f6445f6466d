/* The event loop: epoll (level-triggered) plus a timer heap and deferred callbacks.
 * Single-threaded; nothing here blocks except epoll_wait. Registrations and timers are
 * embedded in their owner's struct, so the loop allocates nothing per fd or timer. */
#ifndef ALKNET_LOOP_H
#define ALKNET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

enum loop_events {
	LOOP_READ = 1,
	LOOP_WRITE = 2,
	LOOP_ERROR = 4, /* EPOLLERR/EPOLLHUP: delivered whatever was asked for */
};

struct loop_io;
typedef void loop_io_cb(struct loop *l, struct loop_io *io, unsigned events);
typedef void loop_timer_cb(struct loop *l, void *ctx);
typedef void loop_defer_cb(struct loop *l, void *ctx);

/* Owned by the caller (usually embedded); valid while registered. */
struct loop_io {
	int fd;
	unsigned events; /* what is currently asked for */
	bool registered;
	loop_io_cb *cb;
	void *ctx;
};

struct loop_timer {
	uint64_t when_ms;
	size_t heap_idx; /* SIZE_MAX when not armed */
	loop_timer_cb *cb;
	void *ctx;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Register io->fd for `events`. The callback gets the events that fired. Returns 0 or -errno. */
int loop_io_start(struct loop *l, struct loop_io *io, int fd, unsigned events, loop_io_cb *cb,
		  void *ctx);
/* Change the interest set; a no-op (no syscall) when it is unchanged. */
int loop_io_set(struct loop *l, struct loop_io *io, unsigned events);
/* Unregister (does not close the fd). Safe from inside any callback: a pending event for this io
 * in the current batch is dropped. Safe to call when not registered. */
void loop_io_stop(struct loop *l, struct loop_io *io);
/* Unregisters like loop_io_stop and closes fd, one system call fewer: for descriptors never
 * dup'ed, whose close removes them from epoll. */
void loop_io_close(struct loop *l, struct loop_io *io, int fd);

void loop_timer_init(struct loop_timer *t);
/* (Re)arm t to fire once after ms milliseconds. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms, loop_timer_cb *cb,
		      void *ctx);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Run cb(ctx) after the current batch of events (used to free objects outside their own
 * callback chain). Allocates a small node. */
void loop_defer(struct loop *l, loop_defer_cb *cb, void *ctx);

/* Monotonic milliseconds, cached once per iteration. */
uint64_t loop_now_ms(struct loop *l);

/* Runs until loop_stop(). Returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
