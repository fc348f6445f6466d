/* alglist_edit: OpenSSH's algorithm-list syntax (--kex-algorithms, --ciphers, --macs,
 * --host-key-algorithms). Input: one byte choosing the kind (the engine's default and
 * supported lists, ssh.h), then the spec (a NUL inside ends it). An accepted spec gives a
 * list that is not empty, holds only supported names, each once and no empty one, is no
 * longer than the supported list, and keeps to what the operator asked: "-" a subset of the
 * default, "+" the default first. A refused one leaves *out alone and says why. */
#include <stdlib.h>
#include <string.h>

#include "alglist.h"
#include "ssh/ssh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the n bytes at p are one of the names of list. */
static bool in_list(const char *list, const char *p, size_t n)
{
	for (const char *c = list; *c;) {
		size_t k = strcspn(c, ",");
		if (k == n && memcmp(c, p, n) == 0)
			return true;
		c += k + (c[k] == ',');
	}
	return false;
}

static void check_result(const char *def, const char *sup, const char *spec, const char *out)
{
	size_t len = strlen(out);

	if (len == 0 || len > strlen(sup) || out[0] == ',' || out[len - 1] == ',')
		abort();
	for (const char *c = out; *c;) {
		size_t k = strcspn(c, ",");
		if (k == 0 || !in_list(sup, c, k))
			abort();
		if (spec[0] == '-' && !in_list(def, c, k))
			abort();
		/* each once: no later occurrence */
		for (const char *d = c + k + (c[k] == ','); *d;) {
			size_t j = strcspn(d, ",");
			if (j == k && memcmp(c, d, k) == 0)
				abort();
			d += j + (d[j] == ',');
		}
		c += k + (c[k] == ',');
	}
	if (spec[0] == '+' && strncmp(out, def, strlen(def)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum ssh_alg_kind kind = (enum ssh_alg_kind)(data[0] % SSH_ALG_KINDS);
	const char *def = ssh_alg_default(kind), *sup = ssh_alg_supported(kind);
	char *spec = malloc(size), *out = (char *)"untouched", err[128] = "";

	memcpy(spec, data + 1, size - 1);
	spec[size - 1] = '\0';
	if (alglist_edit(def, sup, spec, &out, err, sizeof(err)) == 0) {
		check_result(def, sup, spec, out);
		free(out);
	} else if (strcmp(out, "untouched") != 0 || err[0] == '\0') {
		abort();
	}
	free(spec);
	return 0;
}
