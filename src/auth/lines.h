/* Line-by-line reading of the small auth files (--cert-authority, --revoked-keys): LF or CRLF
 * endings, a missing final newline allowed, blank lines and '#' comments skipped, leading
 * and trailing blanks trimmed. A line over AUTH_LINE_MAX bytes or holding a NUL fails the
 * file. */
#ifndef ALKNET_AUTH_LINES_H
#define ALKNET_AUTH_LINES_H

#include <stddef.h>

#define AUTH_LINE_MAX (16 * 1024)	/* OpenSSH's limit for a key line */
#define AUTH_FILE_MAX (4 * 1024 * 1024) /* files larger than this are refused */

/* Called with each line that is not blank or a comment, NUL-terminated and trimmed. Returns
 * NULL to go on, or a short reason that stops the file. */
typedef const char *auth_line_cb(void *ctx, char *line);

/* Runs cb on the lines of text[0..len). 0, or -EINVAL with "NAME:LINE: reason" in err. */
int auth_lines(const char *name, const char *text, size_t len, auth_line_cb *cb, void *ctx,
	       char *err, size_t errlen);
/* Reads path (at most AUTH_FILE_MAX bytes) and runs auth_lines on it. -errno when it can't be
 * read, with "PATH: cannot read: ..." in err. */
int auth_lines_file(const char *path, auth_line_cb *cb, void *ctx, char *err, size_t errlen);

#endif
