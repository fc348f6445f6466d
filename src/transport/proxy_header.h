/* The PROXY protocol (HAProxy's doc/proxy-protocol.txt): a load balancer in front of us sends
 * one header before the client's first byte, saying who the client is. Version 1 is a text
 * line ("PROXY TCP4 198.51.100.7 192.0.2.1 40000 22\r\n", at most 107 bytes), version 2 a
 * binary block (a 12-byte signature, command, family, length, addresses, TLVs).
 *
 * Two parts: proxy_header_parse, a pure function over the bytes received so far, and a
 * transport (transport.h) that wraps plain TCP, reads the header off the socket, reports it
 * once to whoever accepted the connection, and then passes bytes through. Bytes that came in
 * the same read as the header (the client's SSH banner) stay in the transport's buffer and
 * are handed out first; buffered() counts them.
 *
 * Ownership: the transport owns its TCP transport (and through it the socket) and closes it
 * in its own close. Whoever created it owns it (the accept path until the header is in, then
 * the session it hands it to: transport_set_owner). */
#ifndef ALKNET_TRANSPORT_PROXY_HEADER_H
#define ALKNET_TRANSPORT_PROXY_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport.h"

struct loop;

/* Which versions a listener accepts (--proxy-protocol v1|v2|any). */
enum proxy_header_versions {
	PROXY_HEADER_V1 = 1,
	PROXY_HEADER_V2 = 2,
	PROXY_HEADER_ANY = 3,
};

/* The longest v1 line, CRLF included (the specification's worst case). */
#define PROXY_HEADER_V1_MAX 107
/* The longest header accepted: v2's 16 fixed bytes, the addresses and up to ~1.8 KiB of
 * TLVs (HAProxy's SSL, unique-id and authority TLVs fit many times over). Longer is refused. */
#define PROXY_HEADER_MAX 2048

enum proxy_header_status {
	PROXY_HEADER_DONE = 0,	    /* a whole, valid header: see struct proxy_header */
	PROXY_HEADER_NEED_MORE = 1, /* valid so far: call again with more bytes */
	PROXY_HEADER_ERROR = -1,    /* not a header we accept: drop the connection */
};

struct proxy_header {
	size_t len;	  /* DONE: the header's bytes; the client's stream starts after them */
	unsigned version; /* 1 or 2 (DONE) */
	/* LOCAL (v2), UNKNOWN (v1), or a family without an IP address (v2 UNSPEC, UNIX
	 * stream): use the connection's own addresses, as the specification says. */
	bool local;
	struct sockaddr_storage src; /* !local: the client's address and port */
	struct sockaddr_storage dst; /* !local: the address the client connected to */
	const char *error;	     /* ERROR: why, a fixed string (for the log's reason=) */
};

/* Parses buf[0..len), the first bytes of a connection, as a header of one of the versions
 * (a mask of enum proxy_header_versions). Returns NEED_MORE while every byte so far may still
 * begin a valid header (so a truncated header is never an error, only incomplete), DONE with
 * *out filled in, or ERROR with out->error. Looks at no more than PROXY_HEADER_MAX bytes. v2
 * TLVs are skipped after a bounds check, except CRC32C, which is verified. v2 datagram
 * families (UDP, UNIX datagram) are refused: an SSH connection is a stream. */
enum proxy_header_status proxy_header_parse(const uint8_t *buf, size_t len, unsigned versions,
					    struct proxy_header *out);

/* Told once: the header arrived (hdr->error NULL; the transport then passes bytes through
 * once its new owner calls transport_set_owner and transport_want) or the connection failed
 * first (hdr->error: a bad header, the timeout, EOF or a read error). The callee owns t from
 * here and may close it inside the call. */
typedef void proxy_header_cb(void *ctx, struct transport *t, const struct proxy_header *hdr);

/* Takes ownership of fd (accepted, non-blocking) and waits up to timeout_ms for a header of
 * the given versions; done(ctx, ...) reports the outcome. Nothing is written before it.
 * Returns NULL (fd closed) when the loop refuses the registration. */
struct transport *transport_proxy_new(struct loop *l, int fd, unsigned versions,
				      uint64_t timeout_ms, proxy_header_cb *done, void *ctx);

#endif
