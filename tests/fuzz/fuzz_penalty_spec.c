/* penalty_parse: the --per-source-penalty spec, and the table it configures.
 * Input: the spec text (a NUL inside ends it). An accepted spec must be within bounds; then a
 * few penalties under it must never refuse past max, nor below min. */
#include <stdlib.h>
#include <string.h>

#include "penalty.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_table(const struct penalty_cfg *c)
{
	static const uint8_t key[5] = {4, 192, 0, 2, 1};
	struct penalty_table *t = penalty_table_new(c, 4);
	uint64_t now = 1000;

	for (int kind = PENALTY_AUTHFAIL; kind <= PENALTY_GRACE; kind++)
		penalty_add(t, key, sizeof(key), kind, now);
	unsigned sum = c->authfail_s + c->noauth_s + c->grace_s;
	bool refused = penalty_refused(t, key, sizeof(key), now);
	if (c->off ? refused : refused != (sum > 0 && sum >= c->min_s && c->max_s > 0))
		abort();
	if (penalty_refused(t, key, sizeof(key), now + (uint64_t)c->max_s * 1000))
		abort();
	penalty_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[128];
	struct penalty_cfg c;

	memcpy(s, data, size);
	s[size] = '\0';
	memset(&c, 0xa5, sizeof(c));
	struct penalty_cfg before = c;
	if (penalty_parse(s, &c, err, sizeof(err)) == 0) {
		if (!c.off && (c.authfail_s > 86400 || c.noauth_s > 86400 || c.grace_s > 86400 ||
			       c.max_s > 86400 || c.min_s > c.max_s))
			abort();
		check_table(&c);
	} else if (memcmp(&c, &before, sizeof(c)) != 0 || err[0] == '\0') {
		abort();
	}
	free(s);
	return 0;
}
