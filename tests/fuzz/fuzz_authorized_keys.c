/* authkeys_parse: a whole authorized_keys file (key lines, comments, option-carrying lines
 * with quotes, certificates, CRLF, NULs, over-long lines). Warnings are silenced (the log
 * level is ERROR) so the fuzzer doesn't spend its time writing to stderr. A key loaded from
 * the text must be found again by authkeys_contains. */
#include <stdbool.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authkeys *a = NULL;
	char *text = malloc(size ? size : 1); /* exact size, not NUL-terminated */
	size_t lines = 1;

	memcpy(text, data, size);
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
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
