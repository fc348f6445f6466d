/* SOCKS5 (RFC 1928) and RFC 1929 messages. The parsers never consume more than one message:
 * a reply can arrive split at any byte or followed by tunnel data in the same segment. */
#include "socks5.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int socks5_addr_from_host(struct socks5_addr *a, const char *host, uint16_t port, bool allow_name)
{
	size_t n = strlen(host);

	memset(a, 0, sizeof(*a));
	a->port = port;
	if (inet_pton(AF_INET, host, a->addr) == 1) {
		a->atyp = SOCKS5_ATYP_IPV4;
		a->len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, a->addr) == 1) {
		a->atyp = SOCKS5_ATYP_IPV6;
		a->len = 16;
		return 0;
	}
	if (!allow_name || n == 0 || n > SOCKS5_MAX_NAME) {
		return -EINVAL;
	}
	a->atyp = SOCKS5_ATYP_DOMAIN;
	a->len = (uint8_t)n;
	memcpy(a->addr, host, n);
	return 0;
}

int socks5_addr_from_sockaddr(struct socks5_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a->atyp = SOCKS5_ATYP_IPV4;
		a->len = 4;
		memcpy(a->addr, &sin->sin_addr, 4);
		a->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		a->atyp = SOCKS5_ATYP_IPV6;
		a->len = 16;
		memcpy(a->addr, &sin6->sin6_addr, 16);
		a->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

size_t socks5_greeting(uint8_t *out, bool userpass)
{
	out[0] = SOCKS5_VERSION;
	out[1] = userpass ? 2 : 1;
	out[2] = SOCKS5_METHOD_NONE;
	if (!userpass) {
		return 3;
	}
	out[3] = SOCKS5_METHOD_USERPASS;
	return 4;
}

/* VER ULEN UNAME PLEN PASSWD. */
int socks5_auth_request(uint8_t *out, size_t outlen, const char *user, const char *pass)
{
	size_t ulen = user ? strlen(user) : 0;
	size_t plen = pass ? strlen(pass) : 0;

	if (ulen == 0 || ulen > SOCKS5_MAX_NAME || plen > SOCKS5_MAX_NAME ||
	    outlen < 3 + ulen + plen) {
		return -EINVAL;
	}
	out[0] = SOCKS5_AUTH_VERSION;
	out[1] = (uint8_t)ulen;
	memcpy(out + 2, user, ulen);
	out[2 + ulen] = (uint8_t)plen;
	if (plen > 0) {
		memcpy(out + 3 + ulen, pass, plen);
	}
	return (int)(3 + ulen + plen);
}

/* Writes ATYP ADDR PORT at out; returns the length or -EINVAL. */
static int socks5_put_addr(uint8_t *out, size_t outlen, const struct socks5_addr *a)
{
	size_t n = 0;

	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
	case SOCKS5_ATYP_IPV6:
		if (a->len != (a->atyp == SOCKS5_ATYP_IPV4 ? 4 : 16) || outlen < 3u + a->len) {
			return -EINVAL;
		}
		out[n++] = (uint8_t)a->atyp;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (a->len == 0 || outlen < 4u + a->len) {
			return -EINVAL;
		}
		out[n++] = SOCKS5_ATYP_DOMAIN;
		out[n++] = a->len;
		break;
	default:
		return -EINVAL;
	}
	memcpy(out + n, a->addr, a->len);
	n += a->len;
	out[n++] = (uint8_t)(a->port >> 8);
	out[n++] = (uint8_t)(a->port & 0xff);
	return (int)n;
}

/* VER CMD RSV ATYP DST.ADDR DST.PORT. */
int socks5_connect_request(uint8_t *out, size_t outlen, const struct socks5_addr *dst)
{
	if (outlen < 3) {
		return -EINVAL;
	}
	out[0] = SOCKS5_VERSION;
	out[1] = SOCKS5_CMD_CONNECT;
	out[2] = 0;
	int n = socks5_put_addr(out + 3, outlen - 3, dst);
	return n < 0 ? n : n + 3;
}

/* VER METHOD. */
int socks5_parse_method(const uint8_t *in, size_t len, uint8_t *method)
{
	if (len >= 1 && in[0] != SOCKS5_VERSION) {
		return -EPROTO;
	}
	if (len < 2) {
		return 0;
	}
	*method = in[1];
	return 2;
}

/* VER STATUS. RFC 1929 says VER is 1; some servers echo the SOCKS version 5 instead, which
 * is unambiguous, so it is accepted too. */
int socks5_parse_auth(const uint8_t *in, size_t len, uint8_t *status)
{
	if (len >= 1 && in[0] != SOCKS5_AUTH_VERSION && in[0] != SOCKS5_VERSION) {
		return -EPROTO;
	}
	if (len < 2) {
		return 0;
	}
	*status = in[1];
	return 2;
}

/* VER REP RSV ATYP BND.ADDR BND.PORT, with BND.ADDR of any type. RSV is not checked: some
 * proxies put garbage there and it carries nothing. */
int socks5_parse_reply(const uint8_t *in, size_t len, struct socks5_reply *out)
{
	size_t alen, off = 4;

	if (len >= 1 && in[0] != SOCKS5_VERSION) {
		return -EPROTO;
	}
	if (len < 4) {
		return 0;
	}
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		alen = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < 5) {
			return 0;
		}
		alen = in[4];
		off = 5;
		if (alen == 0) {
			return -EPROTO;
		}
		break;
	default:
		return -EPROTO;
	}
	if (len < off + alen + 2) {
		return 0;
	}
	memset(out, 0, sizeof(*out));
	out->rep = in[1];
	out->bnd.atyp = (enum socks5_atyp)in[3];
	out->bnd.len = (uint8_t)alen;
	memcpy(out->bnd.addr, in + off, alen);
	out->bnd.port = (uint16_t)(in[off + alen] << 8 | in[off + alen + 1]);
	return (int)(off + alen + 2);
}

const char *socks5_rep_text(unsigned rep)
{
	switch (rep) {
	case SOCKS5_REP_OK:
		return "succeeded";
	case SOCKS5_REP_FAILURE:
		return "general failure";
	case SOCKS5_REP_NOT_ALLOWED:
		return "connection not allowed by ruleset";
	case SOCKS5_REP_NET_UNREACH:
		return "network unreachable";
	case SOCKS5_REP_HOST_UNREACH:
		return "host unreachable";
	case SOCKS5_REP_CONN_REFUSED:
		return "connection refused";
	case SOCKS5_REP_TTL_EXPIRED:
		return "TTL expired";
	case SOCKS5_REP_CMD_UNSUPPORTED:
		return "command not supported";
	case SOCKS5_REP_ATYP_UNSUPPORTED:
		return "address type not supported";
	default:
		return "unknown error";
	}
}
