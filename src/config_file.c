/* The configuration file's syntax (config_file.h). */
#include "config_file.h"

#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

static int is_keyword_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Trims trailing blanks of s[0..n) in place; returns the new length. */
static size_t trim_end(char *s, size_t n)
{
	while (n > 0 && (is_space(s[n - 1]) || s[n - 1] == '\r'))
		s[--n] = '\0';
	return n;
}

/* The value after the keyword: bare (trimmed) or in double quotes with nothing after them.
 * NULL and *msg set when malformed. */
static const char *line_value(char *p, int eq_seen, const char **msg)
{
	p += strspn(p, " \t");
	if (!eq_seen && *p == '=')
		p += 1 + strspn(p + 1, " \t");
	if (*p != '"') {
		if (*p == '\0')
			*msg = "missing value";
		return *p == '\0' ? NULL : p;
	}
	char *close = strchr(p + 1, '"');
	if (close == NULL) {
		*msg = "unterminated quote";
		return NULL;
	}
	if (close[1 + strspn(close + 1, " \t")] != '\0') {
		*msg = "text after the closing quote";
		return NULL;
	}
	*close = '\0';
	return p + 1;
}

/* One line (NUL-terminated, without its newline): 0 blank or comment, 1 a setting, -1
 * malformed with *msg. */
static int line_split(char *line, size_t n, const char **kw, const char **val, const char **msg)
{
	n = trim_end(line, n);
	char *p = line + strspn(line, " \t");
	if (*p == '\0' || *p == '#')
		return 0;
	if (strlen(line) != n) {
		*msg = "NUL byte in line";
		return -1;
	}
	if (n > CONFIG_FILE_LINE_MAX) {
		*msg = "line too long";
		return -1;
	}
	char *k = p;
	while (is_keyword_char(*p))
		p++;
	if (p == k || (*p != '\0' && !is_space(*p) && *p != '=')) {
		*msg = "expected: keyword value";
		return -1;
	}
	char sep = *p;
	char *rest = sep == '\0' ? p : p + 1;
	*p = '\0';
	*val = line_value(rest, sep == '=', msg);
	*kw = k;
	return *val == NULL ? -1 : 1;
}

unsigned config_file_parse(char *text, size_t len, config_file_cb *cb, config_file_err_cb *err,
			   void *ctx)
{
	unsigned bad = 0, lineno = 0;
	size_t off = 0;

	while (off < len) {
		char *line = text + off;
		char *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off;
		line[n] = '\0';
		off += n + 1;
		lineno++;
		const char *kw = NULL, *val = NULL, *msg = NULL;
		int r = line_split(line, n, &kw, &val, &msg);
		if (r < 0) {
			err(ctx, lineno, msg);
			bad++;
		} else if (r > 0 && cb(ctx, lineno, kw, val) != 0) {
			break;
		}
	}
	return bad;
}
