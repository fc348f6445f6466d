/* Non-blocking name resolution. A fixed pool of threads takes requests from a queue, runs
 * getaddrinfo() and moves them to a done list; an eventfd registered in the loop tells the
 * loop thread to deliver the results. Numeric hosts skip the threads but are still delivered
 * through the done list, so a callback never runs inside resolve_start().
 *
 * Locking: mu protects both lists, every req's state/cancelled fields and `stopping`. A
 * worker owns a RUNNING request's err/res fields without the lock. Everything else (start,
 * cancel, delivery, free) happens on the loop thread. */
#include "resolve.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"
#include "xmalloc.h"

enum resolve_state {
	RESOLVE_QUEUED = 0,  /* in r->queue */
	RESOLVE_RUNNING = 1, /* held by a worker, in no list */
	RESOLVE_DONE = 2,    /* in r->done, waiting for the loop */
};

struct resolve_req {
	struct resolver *r;
	struct resolve_req *prev;
	struct resolve_req *next;
	enum resolve_state state;
	bool cancelled; /* only while RUNNING: the worker frees it */
	char *host;
	char port[8];
	resolve_cb *cb;
	void *ctx;
	int err;
	struct addrinfo *res;
};

struct resolve_list {
	struct resolve_req *head;
	struct resolve_req *tail;
};

struct resolver {
	struct loop *loop;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct resolve_list queue;
	struct resolve_list done;
	bool stopping;
	bool defer_queued; /* a loop defer will deliver the done list */
	bool dead;	   /* resolver_free() ran while that defer was queued: it frees r */
	int efd;
	struct loop_io io;
	pthread_t *threads;
	int nthreads;
};

static void list_push(struct resolve_list *list, struct resolve_req *req)
{
	req->next = NULL;
	req->prev = list->tail;
	if (list->tail != NULL) {
		list->tail->next = req;
	} else {
		list->head = req;
	}
	list->tail = req;
}

static void list_remove(struct resolve_list *list, struct resolve_req *req)
{
	if (req->prev != NULL) {
		req->prev->next = req->next;
	} else {
		list->head = req->next;
	}
	if (req->next != NULL) {
		req->next->prev = req->prev;
	} else {
		list->tail = req->prev;
	}
	req->prev = NULL;
	req->next = NULL;
}

static struct resolve_req *list_pop(struct resolve_list *list)
{
	struct resolve_req *req = list->head;

	if (req != NULL) {
		list_remove(list, req);
	}
	return req;
}

/* Frees a request and any result it still holds. */
static void resolve_req_free(struct resolve_req *req)
{
	if (req == NULL) {
		return;
	}
	if (req->res != NULL) {
		freeaddrinfo(req->res);
	}
	free(req->host);
	free(req);
}

/* Reorders res so the address families alternate, starting with the family of the first
 * entry; order within a family is kept. glibc's freeaddrinfo() frees node by node, so the
 * relinked list can still be freed with it. */
static struct addrinfo *resolve_interleave(struct addrinfo *res)
{
	struct addrinfo *a = NULL, *b = NULL, *out = NULL;
	struct addrinfo **at = &a, **bt = &b, **ot = &out;
	struct addrinfo *ai, *next;

	if (res == NULL) {
		return NULL;
	}
	for (ai = res; ai != NULL; ai = next) {
		next = ai->ai_next;
		ai->ai_next = NULL;
		if (ai->ai_family == res->ai_family) {
			*at = ai;
			at = &ai->ai_next;
		} else {
			*bt = ai;
			bt = &ai->ai_next;
		}
	}
	while (a != NULL || b != NULL) {
		struct addrinfo **pick[2] = {&a, &b};
		for (int i = 0; i < 2; i++) {
			if ((ai = *pick[i]) != NULL) {
				*pick[i] = ai->ai_next;
				ai->ai_next = NULL;
				*ot = ai;
				ot = &ai->ai_next;
			}
		}
	}
	return out;
}

/* Runs getaddrinfo() for req and stores err/res. `flags` adds AI_NUMERICHOST for numeric
 * hosts, which never block. */
static void resolve_lookup(struct resolve_req *req, int flags)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | flags,
	};
	struct addrinfo *res = NULL;
	int err = getaddrinfo(req->host, req->port, &hints, &res);

	if (err == 0 && res == NULL) {
		err = EAI_NONAME;
	}
	if (err != 0) {
		res = NULL;
	}
	req->err = err;
	req->res = resolve_interleave(res);
}

/* Wakes the loop thread; a failed write only means the counter is already non-zero. */
static void resolver_wake(struct resolver *r)
{
	uint64_t one = 1;

	(void)!write(r->efd, &one, sizeof(one));
}

/* Worker thread: takes queued requests until the resolver stops. A request cancelled while
 * it ran is freed here; the others go to the done list. Pending work is left for
 * resolver_free() to drop. */
static void *resolver_worker(void *arg)
{
	struct resolver *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->stopping && r->queue.head == NULL) {
			pthread_cond_wait(&r->cond, &r->mu);
		}
		if (r->stopping) {
			break;
		}
		struct resolve_req *req = list_pop(&r->queue);
		req->state = RESOLVE_RUNNING;
		pthread_mutex_unlock(&r->mu);
		resolve_lookup(req, 0);
		pthread_mutex_lock(&r->mu);
		if (req->cancelled) {
			pthread_mutex_unlock(&r->mu);
			resolve_req_free(req);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		req->state = RESOLVE_DONE;
		list_push(&r->done, req);
		resolver_wake(r);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Delivers finished requests one at a time, taking each off the done list under the lock, so
 * a callback may cancel another request still on it. The request is freed before its
 * callback runs. */
static void resolver_deliver(struct resolver *r)
{
	for (;;) {
		pthread_mutex_lock(&r->mu);
		struct resolve_req *req = list_pop(&r->done);
		pthread_mutex_unlock(&r->mu);
		if (req == NULL) {
			break;
		}
		resolve_cb *cb = req->cb;
		void *ctx = req->ctx;
		int err = req->err;
		struct addrinfo *res = req->res;
		req->res = NULL;
		resolve_req_free(req);
		cb(ctx, err, res);
	}
}

/* Loop callback on the eventfd: the workers finished something. */
static void resolver_on_event(struct loop *l, struct loop_io *io, unsigned events)
{
	struct resolver *r = io->ctx;
	uint64_t cnt;

	(void)l;
	(void)events;
	(void)!read(r->efd, &cnt, sizeof(cnt));
	resolver_deliver(r);
}

/* Loop defer for numeric hosts: their results are ready at once, so they need no eventfd
 * round trip (three system calls per channel). */
static void resolver_deferred(struct loop *l, void *ctx)
{
	struct resolver *r = ctx;

	(void)l;
	r->defer_queued = false;
	if (r->dead) {
		free(r);
		return;
	}
	resolver_deliver(r);
}

/* Starts up to n workers with all signals blocked, so signals reach only the main thread.
 * Returns the number started. */
static int resolver_spawn(struct resolver *r, int n)
{
	sigset_t all, old;
	int started = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (started < n && pthread_create(&r->threads[started], NULL, resolver_worker, r) == 0) {
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}

/* Creates a resolver with `threads` workers (at least 1) whose results are delivered on l.
 * Returns NULL when the eventfd, its registration or the threads cannot be created. */
struct resolver *resolver_new(struct loop *l, int threads)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->loop = l;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (r->efd == -1 ||
	    loop_io_start(l, &r->io, r->efd, LOOP_READ, resolver_on_event, r) != 0) {
		resolver_free(r);
		return NULL;
	}
	if (threads < 1) {
		threads = 1;
	}
	r->threads = xcalloc((size_t)threads, sizeof(*r->threads));
	r->nthreads = resolver_spawn(r, threads);
	if (r->nthreads != threads) {
		resolver_free(r);
		return NULL;
	}
	return r;
}

/* Stops and joins the workers (a running lookup is waited for), then drops every request
 * still queued or done without calling back. Handles the caller still holds become invalid.
 * Must not be called from a resolve callback. */
void resolver_free(struct resolver *r)
{
	struct resolve_req *req;

	if (r == NULL) {
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->nthreads; i++) {
		pthread_join(r->threads[i], NULL);
	}
	while ((req = list_pop(&r->queue)) != NULL) {
		resolve_req_free(req);
	}
	while ((req = list_pop(&r->done)) != NULL) {
		resolve_req_free(req);
	}
	loop_io_stop(r->loop, &r->io);
	if (r->efd != -1) {
		close(r->efd);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r->threads);
	if (r->defer_queued) {
		r->dead = true; /* the queued defer frees it */
		return;
	}
	free(r);
}

static bool resolve_is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Queues a lookup of host:port; cb runs later on the loop thread (never from here) unless the
 * request is cancelled first. Numeric hosts are converted right away and only their delivery
 * goes through the loop. Returns the handle, valid until the callback or resolve_cancel(). */
struct resolve_req *resolve_start(struct resolver *r, const char *host, uint16_t port,
				  resolve_cb *cb, void *ctx)
{
	struct resolve_req *req = xcalloc(1, sizeof(*req));

	req->r = r;
	req->host = xstrdup(host);
	snprintf(req->port, sizeof(req->port), "%u", (unsigned)port);
	req->cb = cb;
	req->ctx = ctx;
	if (resolve_is_numeric(host)) {
		resolve_lookup(req, AI_NUMERICHOST);
		pthread_mutex_lock(&r->mu);
		req->state = RESOLVE_DONE;
		list_push(&r->done, req);
		pthread_mutex_unlock(&r->mu);
		if (!r->defer_queued) {
			r->defer_queued = true;
			loop_defer(r->loop, resolver_deferred, r);
		}
		return req;
	}
	pthread_mutex_lock(&r->mu);
	req->state = RESOLVE_QUEUED;
	list_push(&r->queue, req);
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	return req;
}

/* Withdraws a request: a queued or finished one is freed now, a running one is marked so its
 * worker frees it. Either way the callback never runs. NULL is accepted. */
void resolve_cancel(struct resolve_req *req)
{
	struct resolver *r;

	if (req == NULL) {
		return;
	}
	r = req->r;
	pthread_mutex_lock(&r->mu);
	switch (req->state) {
	case RESOLVE_QUEUED:
		list_remove(&r->queue, req);
		break;
	case RESOLVE_DONE:
		list_remove(&r->done, req);
		break;
	case RESOLVE_RUNNING:
		req->cancelled = true;
		req = NULL;
		break;
	}
	pthread_mutex_unlock(&r->mu);
	resolve_req_free(req);
}
