/* Line-by-line reading of the auth files (lines.h). */
#include "lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../file.h"
#include "../xmalloc.h"

/* Trims blanks at both ends of line (in place); returns its first non-blank byte. */
static char *trim(char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	return line + strspn(line, " \t");
}

/* One line, p[0..n) without its ending: NULL, or why the file fails. */
static const char *one_line(const char *p, size_t n, auth_line_cb *cb, void *ctx)
{
	const char *why = NULL;

	if (n > AUTH_LINE_MAX)
		return "line too long";
	if (memchr(p, '\0', n) != NULL)
		return "NUL byte in line";
	char *copy = xstrndup(p, n);
	char *line = trim(copy);
	if (*line != '\0' && *line != '#')
		why = cb(ctx, line);
	free(copy);
	return why;
}

int auth_lines(const char *name, const char *text, size_t len, auth_line_cb *cb, void *ctx,
	       char *err, size_t errlen)
{
	size_t off = 0, lineno = 0;

	while (off < len) {
		const char *p = text + off;
		const char *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;

		off += n + (nl != NULL);
		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		const char *why = one_line(p, n, cb, ctx);
		if (why != NULL) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			return -EINVAL;
		}
	}
	return 0;
}

int auth_lines_file(const char *path, auth_line_cb *cb, void *ctx, char *err, size_t errlen)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int ret = file_read_small(path, AUTH_FILE_MAX, &text, &len);

	if (ret != 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 ret == -EFBIG ? "larger than 4 MiB" : strerror(-ret));
		return ret;
	}
	ret = auth_lines(path, (const char *)text, len, cb, ctx, err, errlen);
	free(text); /* public keys and serials only */
	return ret;
}
