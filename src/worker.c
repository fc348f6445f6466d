/* One event loop's own state (worker.h). */
#include "worker.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "auth/authorized_keys.h"
#include "auth/cert.h"
#include "auth/revoked.h"
#include "hub.h"
#include "loop.h"
#include "resolve.h"
#include "settings.h"
#include "ssh/key.h"
#include "ssh/key_cert.h"
#include "xmalloc.h"

#define WORKER_USER_BUCKETS 1024

static void user_free(struct worker_user *u)
{
	if (u->cert)
		free(u->cert->key_id);
	free(u->cert);
	free(u);
}

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
			user_free(u);
		}
	}
	free(w->users);
	w->users = NULL;
}

/* Whether set no longer lets u's sessions open channels. */
static bool user_revoked(const struct settings *set, const struct worker_user *u)
{
	const struct worker_cert *c = u->cert;
	const struct revoked *r = set->revoked;

	if (c == NULL)
		return !authkeys_contains_fp(set->authkeys, u->fp) || revoked_key_fp(r, u->fp);
	bool ca_trusted = cert_cas_contains_fp(set->cas, c->ca_fp) ||
			  authkeys_contains_ca_fp(set->authkeys, c->ca_fp);
	return !ca_trusted || revoked_key_fp(r, c->key_fp) || revoked_key_fp(r, c->ca_fp) ||
	       (c->serial != 0 && revoked_serial(r, c->serial)) || revoked_key_id(r, c->key_id);
}

void worker_use_settings(struct worker *w, const struct settings *set)
{
	w->set = set;
	w->ssh = set->ssh;
	w->ssh.crypto = w->crypto;
	for (size_t i = 0; i < WORKER_USER_BUCKETS; i++) {
		for (struct worker_user *u = w->users[i]; u; u = u->next)
			u->revoked = user_revoked(set, u);
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
	user_free(u);
}

struct worker_user *worker_user_get_cert(struct worker *w, const struct ssh_cert *c)
{
	char fp[SSH_KEY_FP_LEN];

	ssh_cert_fingerprint(c, fp);
	struct worker_user *u = worker_user_get(w, fp);
	if (u->cert == NULL) {
		u->cert = xcalloc(1, sizeof(*u->cert));
		ssh_key_fingerprint(c->key, u->cert->key_fp);
		ssh_key_fingerprint(c->ca_key, u->cert->ca_fp);
		u->cert->serial = c->serial;
		u->cert->key_id = xstrdup(c->key_id);
	}
	return u;
}
