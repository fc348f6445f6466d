/* Plain log lines on stderr: "<UTC timestamp> LEVEL message key=value ...".
 * Never pass a tunnel destination, a resolved address or tunnel byte counts to these. */
#ifndef ALKNET_LOG_H
#define ALKNET_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

void log_set_level(enum log_level level);
/* `alknet serve --check`: lines become "warning: MESSAGE" (or "error: "), no timestamp. */
void log_set_plain(bool on);
/* Accepts error, warn, info, debug (any case). Returns 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Copies a peer-supplied string (user name, method, client version, ...) for a log line, so
 * that it stays one token of one line: printable ASCII except space, '"', '\\' and '=' is
 * kept, everything else becomes \xNN; at most LOG_SAFE_MAX_IN input bytes, a longer string
 * ends in "...". out should hold LOG_SAFE_LEN bytes (never less than LOG_SAFE_MIN: then it
 * is left empty). Returns out. */
#define LOG_SAFE_MAX_IN 64
#define LOG_SAFE_LEN	(4 * LOG_SAFE_MAX_IN + 4)
#define LOG_SAFE_MIN	16
const char *log_safe(const char *in, char *out, size_t outlen);
#endif
