/* One event loop's own state (worker.h). */
#include "worker.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "auth/authorized_keys.h"
#include "hub.h"
#include "loop.h"
#include "resolve.h"
#include "settings.h"
#include "xmalloc.h"

#define WORKER_USER_BUCKETS 1024

int worker_init(struct worker *w, const struct settings *set, unsigned resolver_threads)
{
	memset(w, 0, sizeof(*w));
	w->set = set;
	w->ssh = set->ssh;
	w->crypto = ssh_crypto_new();
	w->ssh.crypto = w->crypto;
	w->loop = loop_new();
	if (w->loop == NULL)
		return -1;
	w->resolver = resolver_new(w->loop, (int)resolver_threads);
	if (w->resolver == NULL)
		return -1;
	w->users = xcalloc(WORKER_USER_BUCKETS, sizeof(*w->users));
	w->hub = hub_new();
	w->outbound.loop = w->loop;
	w->outbound.resolver = w->resolver;
	return 0;
}

void worker_free(struct worker *w)
{
	if (w->resolver)
		resolver_free(w->resolver);
	w->resolver = NULL;
	if (w->loop)
		loop_free(w->loop); /* runs the pending frees: the last sessions */
	w->loop = NULL;
	ssh_crypto_free(w->crypto); /* after the last session */
	hub_free(w->hub);	    /* after the last control channel */
	w->hub = NULL;
	w->crypto = NULL;
	for (size_t i = 0; w->users && i < WORKER_USER_BUCKETS; i++) {
		while (w->users[i]) {
			struct worker_user *u = w->users[i];
			w->users[i] = u->next;
			free(u);
		}
	}
	free(w->users);
	w->users = NULL;
}

void worker_use_settings(struct worker *w, const struct settings *set)
{
	w->set = set;
	w->ssh = set->ssh;
	w->ssh.crypto = w->crypto;
	for (size_t i = 0; i < WORKER_USER_BUCKETS; i++) {
		for (struct worker_user *u = w->users[i]; u; u = u->next)
			u->revoked = !authkeys_contains_fp(set->authkeys, u->fp);
	}
}

static struct worker_user **user_slot(struct worker *w, const char *fp)
{
	uint32_t h = 2166136261u;

	for (const char *p = fp; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct worker_user **slot = &w->users[h % WORKER_USER_BUCKETS];
	while (*slot && strcmp((*slot)->fp, fp) != 0)
		slot = &(*slot)->next;
	return slot;
}

struct worker_user *worker_user_get(struct worker *w, const char *fp)
{
	struct worker_user **slot = user_slot(w, fp);

	if (*slot == NULL) {
		*slot = xcalloc(1, sizeof(**slot));
		snprintf((*slot)->fp, sizeof((*slot)->fp), "%s", fp);
	}
	(*slot)->sessions++;
	(*slot)->revoked = false; /* it just logged in: the current set holds it */
	return *slot;
}

void worker_user_put(struct worker *w, struct worker_user *u)
{
	if (u == NULL || --u->sessions > 0)
		return;
	struct worker_user **slot = user_slot(w, u->fp);
	*slot = u->next;
	free(u);
}
