/* Problems found while loading the configuration and the files it names. Each is one message
 * "WHERE: what is wrong[; how to fix it]", WHERE being "FILE:LINE", "FILE" or "--option". The
 * collector decides what they become: lines on stderr at start-up ("alknet: ..."), bare lines
 * for `alknet serve --check`, or, on a reload, nothing but the first one kept for the WARN
 * line. Owned by whoever runs the load; no state outside the struct. */
#ifndef ALKNET_DIAG_H
#define ALKNET_DIAG_H

#include <stddef.h>

enum diag_mode {
	DIAG_STDERR = 0, /* "alknet: MESSAGE" on stderr */
	DIAG_PLAIN = 1,	 /* "MESSAGE" on stderr (--check) */
	DIAG_QUIET = 2,	 /* only counted, the first kept (reload) */
};

#define DIAG_MSG_MAX 512

struct diag {
	enum diag_mode mode;
	unsigned errors;
	char first[DIAG_MSG_MAX]; /* the first message, "" if none */
};

void diag_init(struct diag *d, enum diag_mode mode);
void diag_error(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
