/* authkeys_parse: a whole authorized_keys file (key lines, comments, option-carrying lines
 * with quotes, certificates, CRLF, NULs, over-long lines). Warnings are silenced (the log
 * level is ERROR) so the fuzzer doesn't spend its time writing to stderr. A key loaded from
 * the text must be found again by authkeys_contains. The first line is also fed alone to the
 * options parser (authkeys_options_parse) and, NUL-terminated, to the expiry-time parser:
 * what they accept must be well formed (ports in range, hosts non-empty). */
#include <stdbool.h>

#include "auth/authkeys_options.h"
#include "auth/authorized_keys.h"
#include "fuzz_common.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	return 0;
}

/* The options parser on its own, on text[0..n). */
static void fuzz_options(const char *text, size_t n)
{
	struct authkeys_opts o;
	char err[128];
	int64_t t;

	if (authkeys_options_parse(text, n, &o, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < o.permits.n_open; i++) {
			FUZZ_CHECK(o.permits.open[i].host[0] != '\0');
			FUZZ_CHECK(
				o.permits.open[i].port == POLICY_ANY_PORT ||
				(o.permits.open[i].port >= 1 && o.permits.open[i].port <= 65535));
		}
		FUZZ_CHECK(o.expiry >= 0);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
	}
	authkeys_options_free(&o);
	char *z = strndup(text, n);
	if (authkeys_parse_time(z, &t) == 0)
		FUZZ_CHECK(t > 0);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authkeys *a = NULL;
	char *text = malloc(size ? size : 1); /* exact size, not NUL-terminated */
	size_t lines = 1;

	memcpy(text, data, size);
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	const char *nl1 = memchr(text, '\n', size);
	fuzz_options(text, nl1 ? (size_t)(nl1 - text) : size);
	FUZZ_CHECK(authkeys_parse("fuzz", text, size, &a) == 0 && a != NULL);
	FUZZ_CHECK(authkeys_count(a) <= lines);

	/* The first line that parses on its own must be in the set. */
	if (authkeys_count(a) > 0) {
		size_t off = 0;
		while (off < size) {
			const char *nl = memchr(text + off, '\n', size - off);
			size_t n = nl ? (size_t)(nl - (text + off)) : size - off;
			char *line = strndup(text + off, n);
			struct ssh_key *k = NULL;
			if (strlen(line) == n && ssh_key_parse_public(line, &k, NULL, 0) == 0) {
				FUZZ_CHECK(authkeys_contains(a, k));
				ssh_key_free(k);
				free(line);
				break;
			}
			free(line);
			off += n + 1;
		}
	}
	FUZZ_CHECK(!authkeys_contains(a, NULL));
	authkeys_free(a);
	free(text);
	return 0;
}
