/* Configuration problems (diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void diag_init(struct diag *d, enum diag_mode mode)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
}

void diag_error(struct diag *d, const char *fmt, ...)
{
	char msg[DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->errors++ == 0)
		snprintf(d->first, sizeof(d->first), "%s", msg);
	if (d->mode == DIAG_STDERR)
		fprintf(stderr, "alknet: %s\n", msg);
	else if (d->mode == DIAG_PLAIN)
		fprintf(stderr, "%s\n", msg);
}
