/* SSH wire encoding (RFC 4251 §5): a growable writer and a bounds-checked reader.
 * The reader never fails loudly: after the first short read it sets `err` and every later get
 * returns zeros/empty, so a parser checks `r.err` once at the end of a message. */
#ifndef ALKNET_SSH_BUF_H
#define ALKNET_SSH_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

struct sreader {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

/* Writer. Grows as needed (xrealloc). sbuf_free clears the bytes before freeing. */
void sbuf_reserve(struct sbuf *b, size_t extra);
uint8_t *sbuf_append_space(struct sbuf *b, size_t n);
void sbuf_put(struct sbuf *b, const void *p, size_t n);
void sbuf_put_u8(struct sbuf *b, uint8_t v);
void sbuf_put_u32(struct sbuf *b, uint32_t v);
void sbuf_put_string(struct sbuf *b, const void *p, size_t n);
void sbuf_put_cstring(struct sbuf *b, const char *s);
/* mpint from an unsigned big-endian magnitude (leading zeros stripped, 0x00 added if needed). */
void sbuf_put_mpint(struct sbuf *b, const uint8_t *mag, size_t n);
void sbuf_consume(struct sbuf *b, size_t n);
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* Reader. */
void sreader_init(struct sreader *r, const void *p, size_t len);
uint8_t sreader_u8(struct sreader *r);
uint32_t sreader_u32(struct sreader *r);
bool sreader_bool(struct sreader *r);
/* Returns a pointer into the message (not NUL-terminated) and its length. */
const uint8_t *sreader_string(struct sreader *r, size_t *len);
const uint8_t *sreader_bytes(struct sreader *r, size_t n);
/* True when the string just read equals s exactly. */
bool sreader_string_eq(const uint8_t *p, size_t len, const char *s);
size_t sreader_left(const struct sreader *r);
/* True when the message was read to its last byte without a short read (OpenSSH's
 * sshpkt_get_end): no field missing, nothing left over. */
bool sreader_end(const struct sreader *r);

static inline void put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t get_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
