#include "buf.h"

#include <string.h>

#include <openssl/crypto.h>

#include "../xmalloc.h"

void sbuf_reserve(struct sbuf *b, size_t extra)
{
	size_t need = b->len + extra;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

uint8_t *sbuf_append_space(struct sbuf *b, size_t n)
{
	sbuf_reserve(b, n);
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

void sbuf_put(struct sbuf *b, const void *p, size_t n)
{
	if (n)
		memcpy(sbuf_append_space(b, n), p, n);
}

void sbuf_put_u8(struct sbuf *b, uint8_t v)
{
	*sbuf_append_space(b, 1) = v;
}

void sbuf_put_u32(struct sbuf *b, uint32_t v)
{
	put_u32be(sbuf_append_space(b, 4), v);
}

void sbuf_put_string(struct sbuf *b, const void *p, size_t n)
{
	sbuf_put_u32(b, (uint32_t)n);
	sbuf_put(b, p, n);
}

void sbuf_put_cstring(struct sbuf *b, const char *s)
{
	sbuf_put_string(b, s, strlen(s));
}

void sbuf_put_mpint(struct sbuf *b, const uint8_t *mag, size_t n)
{
	while (n > 0 && mag[0] == 0) {
		mag++;
		n--;
	}
	if (n > 0 && (mag[0] & 0x80)) {
		sbuf_put_u32(b, (uint32_t)n + 1);
		sbuf_put_u8(b, 0);
	} else {
		sbuf_put_u32(b, (uint32_t)n);
	}
	sbuf_put(b, mag, n);
}

/* Drops n bytes from the front; releases the storage once empty so idle sessions hold none. */
void sbuf_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
}

void sbuf_free(struct sbuf *b)
{
	freezero(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}

void sreader_init(struct sreader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = false;
}

const uint8_t *sreader_bytes(struct sreader *r, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t sreader_u8(struct sreader *r)
{
	const uint8_t *p = sreader_bytes(r, 1);

	return p ? p[0] : 0;
}

uint32_t sreader_u32(struct sreader *r)
{
	const uint8_t *p = sreader_bytes(r, 4);

	return p ? get_u32be(p) : 0;
}

bool sreader_bool(struct sreader *r)
{
	return sreader_u8(r) != 0;
}

const uint8_t *sreader_string(struct sreader *r, size_t *len)
{
	uint32_t n = sreader_u32(r);
	const uint8_t *p = sreader_bytes(r, n);

	*len = p ? n : 0;
	return p ? p : (const uint8_t *)"";
}

bool sreader_string_eq(const uint8_t *p, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(p, s, len) == 0;
}

size_t sreader_left(const struct sreader *r)
{
	return r->err ? 0 : r->len - r->off;
}

bool sreader_end(const struct sreader *r)
{
	return !r->err && r->off == r->len;
}
