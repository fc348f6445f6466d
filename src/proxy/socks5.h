/* SOCKS5 client messages (RFC 1928) and username/password sub-negotiation (RFC 1929): builders
 * for what we send, and parsers for what the proxy answers. No sockets, no state: the parsers
 * look at what is buffered and either report a complete message (its length), "need more" (0)
 * or a protocol error. */
#ifndef ALKNET_PROXY_SOCKS5_H
#define ALKNET_PROXY_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SOCKS5_VERSION	    5
#define SOCKS5_AUTH_VERSION 1
#define SOCKS5_CMD_CONNECT  1
#define SOCKS5_MAX_NAME	    255
/* Largest message we build: the RFC 1929 request, 1 + 1 + 255 + 1 + 255 bytes. */
#define SOCKS5_MAX_REQUEST 513
/* Largest reply: VER REP RSV ATYP LEN name[255] PORT. */
#define SOCKS5_MAX_REPLY 262

enum socks5_method {
	SOCKS5_METHOD_NONE = 0x00,
	SOCKS5_METHOD_USERPASS = 0x02,
	SOCKS5_METHOD_UNACCEPTABLE = 0xff,
};

enum socks5_atyp {
	SOCKS5_ATYP_IPV4 = 1,
	SOCKS5_ATYP_DOMAIN = 3,
	SOCKS5_ATYP_IPV6 = 4,
};

enum socks5_rep {
	SOCKS5_REP_OK = 0,
	SOCKS5_REP_FAILURE = 1,
	SOCKS5_REP_NOT_ALLOWED = 2,
	SOCKS5_REP_NET_UNREACH = 3,
	SOCKS5_REP_HOST_UNREACH = 4,
	SOCKS5_REP_CONN_REFUSED = 5,
	SOCKS5_REP_TTL_EXPIRED = 6,
	SOCKS5_REP_CMD_UNSUPPORTED = 7,
	SOCKS5_REP_ATYP_UNSUPPORTED = 8,
};

/* DST.ADDR / BND.ADDR: 4 or 16 address bytes, or a name of 1..255 bytes (not NUL-terminated). */
struct socks5_addr {
	enum socks5_atyp atyp;
	uint8_t len;
	uint8_t addr[SOCKS5_MAX_NAME];
	uint16_t port;
};

struct socks5_reply {
	uint8_t rep; /* enum socks5_rep, or any other value a proxy sends */
	struct socks5_addr bnd;
};

/* An IP literal ("192.0.2.1", "2001:db8::1") becomes ATYP 1/4. Otherwise, with allow_name,
 * the name itself (ATYP 3). Returns 0, or -EINVAL (a name when !allow_name, or longer than
 * 255 bytes, or empty). */
int socks5_addr_from_host(struct socks5_addr *a, const char *host, uint16_t port, bool allow_name);
/* AF_INET / AF_INET6 socket address (port included). Returns 0 or -EAFNOSUPPORT. */
int socks5_addr_from_sockaddr(struct socks5_addr *a, const struct sockaddr *sa);

/* Method selection offering no-auth and, with userpass, username/password. out holds 4 bytes.
 * Returns the length. */
size_t socks5_greeting(uint8_t *out, bool userpass);
/* RFC 1929 request. Returns the length, or -EINVAL when user or pass is empty/too long (user
 * must be 1..255 bytes; pass 0..255, NULL meaning empty) or out is too small. The caller wipes
 * out afterwards: it holds the password. */
int socks5_auth_request(uint8_t *out, size_t outlen, const char *user, const char *pass);
/* CONNECT to dst. Returns the length, or -EINVAL when out is too small or dst is malformed. */
int socks5_connect_request(uint8_t *out, size_t outlen, const struct socks5_addr *dst);

/* Parsers: return the length of the complete message at the start of in (> 0), 0 when more
 * bytes are needed, or -EPROTO (wrong version byte, unknown address type, empty name). Bytes
 * after the message are not looked at: they belong to what follows. */
int socks5_parse_method(const uint8_t *in, size_t len, uint8_t *method);
int socks5_parse_auth(const uint8_t *in, size_t len, uint8_t *status);
int socks5_parse_reply(const uint8_t *in, size_t len, struct socks5_reply *out);

/* "connection refused" for SOCKS5_REP_CONN_REFUSED, ...; "unknown error" for codes outside
 * RFC 1928. */
const char *socks5_rep_text(unsigned rep);

#endif
