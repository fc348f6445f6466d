/* The configuration file's syntax: one `keyword value` per line (or `keyword=value`), blank
 * lines and lines starting with '#' ignored, a value may be put in double quotes (to keep
 * spaces; no escapes inside). Knows nothing of what the keywords mean (config.c does). */
#ifndef ALKNET_CONFIG_FILE_H
#define ALKNET_CONFIG_FILE_H

#include <stddef.h>

#define CONFIG_FILE_MAX	     (1024 * 1024)
#define CONFIG_FILE_LINE_MAX 4096

/* Called for each `keyword value` line; keyword and value are NUL-terminated, inside the
 * text (valid while it is). Return 0 to go on. */
typedef int config_file_cb(void *ctx, unsigned line, const char *keyword, const char *value);
/* Reports a syntax error of one line: a static message. */
typedef void config_file_err_cb(void *ctx, unsigned line, const char *msg);

/* Splits text[0..len) (modified in place: line ends and quotes become NULs; text[len] must be
 * a NUL) into lines and calls cb for each setting, err for each malformed line, which is
 * skipped. Returns the number of malformed lines. */
unsigned config_file_parse(char *text, size_t len, config_file_cb *cb, config_file_err_cb *err,
			   void *ctx);

#endif
