/* Allocation helpers that abort when memory runs out: memory is bounded by limits, not by
 * NULL checks at every call site. */
#ifndef ALKNET_XMALLOC_H
#define ALKNET_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Clear n bytes of p (secrets) and free it; p may be NULL. */
void freezero(void *p, size_t n);

#endif
