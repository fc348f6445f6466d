#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static enum log_level current_level = LOG_INFO;
static bool plain; /* --check: "warning: MESSAGE", no timestamp */

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

void log_set_plain(bool on)
{
	plain = on;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

/* One event per line, written with a single fwrite so lines from concurrent writers don't mix. */
void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > current_level)
		return;

	char line[1024];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n;
	if (plain) {
		n = snprintf(line, sizeof(line), "%s: ", level == LOG_ERROR ? "error" : "warning");
	} else {
		n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s ",
			      (long)tv.tv_usec / 1000, level_names[level]);
	}

	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

const char *log_safe(const char *in, char *out, size_t outlen)
{
	size_t o = 0, i = 0;

	if (outlen < LOG_SAFE_MIN)
		return outlen > 0 ? (out[0] = '\0', out) : out;
	for (; in[i] != '\0' && i < LOG_SAFE_MAX_IN && o + 4 + 4 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	if (in[i] != '\0')
		o += (size_t)snprintf(out + o, outlen - o, "...");
	out[o] = '\0';
	return out;
}
