/* One event loop's own state (worker.h). */
#include "worker.h"

#include <string.h>

#include "loop.h"
#include "resolve.h"
#include "settings.h"

int worker_init(struct worker *w, const struct settings *set, unsigned resolver_threads)
{
	memset(w, 0, sizeof(*w));
	w->ssh = set->ssh;
	w->crypto = ssh_crypto_new();
	w->ssh.crypto = w->crypto;
	w->loop = loop_new();
	if (w->loop == NULL)
		return -1;
	w->resolver = resolver_new(w->loop, (int)resolver_threads);
	if (w->resolver == NULL)
		return -1;
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
	w->crypto = NULL;
}
