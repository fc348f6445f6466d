/* The SOCKS5 client's parsers (src/proxy/socks5.h): what an outbound proxy answers to the
 * method selection, the RFC 1929 login and CONNECT. The input is the proxy's bytes. Each parser
 * must agree with itself as the bytes trickle in: a prefix of a complete message is "need
 * more" (never an error, never a length past the prefix), and once complete the answer doesn't
 * change. Then the builders: a CONNECT request built from a host in the input parses back (its
 * layout is the reply's) to the same address. */
#include <errno.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "proxy/socks5.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

typedef int parse_fn(const uint8_t *in, size_t len, void *out);

static int p_method(const uint8_t *in, size_t len, void *out)
{
	return socks5_parse_method(in, len, out);
}

static int p_auth(const uint8_t *in, size_t len, void *out)
{
	return socks5_parse_auth(in, len, out);
}

static int p_reply(const uint8_t *in, size_t len, void *out)
{
	return socks5_parse_reply(in, len, out);
}

/* Runs parse on every prefix of in (copied to an exact-size buffer each time, so ASan sees a
 * read past the prefix). */
static void check_prefixes(parse_fn *parse, const uint8_t *in, size_t size, size_t outsize)
{
	struct socks5_reply out; /* large and aligned enough for every parser's output */
	size_t n = size < SOCKS5_MAX_REPLY + 8 ? size : SOCKS5_MAX_REPLY + 8;
	int full = parse(in, n, &out);

	FUZZ_CHECK(full == 0 || full == -EPROTO || (full > 0 && (size_t)full <= n));
	FUZZ_CHECK(outsize <= sizeof(out));
	for (size_t len = 0; len <= n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, in, len);
		int r = parse(copy, len, &out);
		free(copy);
		if (r > 0) {
			FUZZ_CHECK((size_t)r <= len && r == full);
			break;
		}
		if (r < 0) {
			FUZZ_CHECK(r == -EPROTO && full == -EPROTO);
			break;
		}
		FUZZ_CHECK(full <= 0 || len < (size_t)full);
	}
}

static void check_reply_fields(const uint8_t *in, size_t size)
{
	struct socks5_reply rep;
	int r = socks5_parse_reply(in, size, &rep);

	if (r <= 0)
		return;
	FUZZ_CHECK(socks5_rep_text(rep.rep) != NULL);
	switch (rep.bnd.atyp) {
	case SOCKS5_ATYP_IPV4:
		FUZZ_CHECK(rep.bnd.len == 4 && r == 10);
		break;
	case SOCKS5_ATYP_IPV6:
		FUZZ_CHECK(rep.bnd.len == 16 && r == 22);
		break;
	case SOCKS5_ATYP_DOMAIN:
		FUZZ_CHECK(rep.bnd.len >= 1 && r == 7 + rep.bnd.len);
		break;
	default:
		FUZZ_CHECK(false);
	}
}

/* A CONNECT request for the host spelled by the input parses back as a reply (VER CMD RSV
 * ATYP ADDR PORT has the reply's layout) to the same address. */
static void check_builders(const uint8_t *in, size_t size)
{
	char host[300];
	size_t n = size < sizeof(host) - 1 ? size : sizeof(host) - 1;
	struct socks5_addr a;
	struct socks5_reply back;
	uint8_t req[SOCKS5_MAX_REQUEST];

	memcpy(host, in, n);
	host[n] = '\0';
	uint16_t port = size >= 2 ? (uint16_t)(in[0] << 8 | in[1]) : 1080;
	if (socks5_addr_from_host(&a, host, port, size % 2 == 0) != 0)
		return;
	int len = socks5_connect_request(req, sizeof(req), &a);
	FUZZ_CHECK(len > 0 && (size_t)len <= sizeof(req));
	FUZZ_CHECK(socks5_parse_reply(req, (size_t)len, &back) == len);
	FUZZ_CHECK(back.rep == SOCKS5_CMD_CONNECT && back.bnd.atyp == a.atyp);
	FUZZ_CHECK(back.bnd.len == a.len && memcmp(back.bnd.addr, a.addr, a.len) == 0);
	FUZZ_CHECK(back.bnd.port == a.port && a.port == port);
	/* Too small a buffer is refused, never overrun. */
	FUZZ_CHECK(socks5_connect_request(req, (size_t)len - 1, &a) < 0);

	uint8_t greet[4];
	size_t g = socks5_greeting(greet, n % 3 == 0);
	FUZZ_CHECK(g >= 3 && g <= 4 && greet[0] == SOCKS5_VERSION && greet[1] == g - 2);
}

static void check_auth_request(const uint8_t *in, size_t size)
{
	char user[300], pass[300];
	size_t half = size / 2;
	size_t un = half < sizeof(user) - 1 ? half : sizeof(user) - 1;
	size_t pn = size - half < sizeof(pass) - 1 ? size - half : sizeof(pass) - 1;
	uint8_t out[SOCKS5_MAX_REQUEST];

	memcpy(user, in, un);
	user[un] = '\0';
	memcpy(pass, in + half, pn);
	pass[pn] = '\0';
	int len = socks5_auth_request(out, sizeof(out), user, pass);
	if (len < 0)
		return;
	size_t ul = strlen(user), pl = strlen(pass);
	FUZZ_CHECK(ul >= 1 && ul <= 255 && pl <= 255 && (size_t)len == 3 + ul + pl);
	FUZZ_CHECK(out[0] == SOCKS5_AUTH_VERSION && out[1] == ul && out[2 + ul] == pl);
	FUZZ_CHECK(memcmp(out + 2, user, ul) == 0 && memcmp(out + 3 + ul, pass, pl) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The first byte picks the parser, so one corpus serves all three. */
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	switch (data[0] % 4) {
	case 0:
		check_prefixes(p_method, in, n, 1);
		break;
	case 1:
		check_prefixes(p_auth, in, n, 1);
		break;
	case 2:
		check_prefixes(p_reply, in, n, sizeof(struct socks5_reply));
		check_reply_fields(in, n);
		break;
	default:
		check_builders(in, n);
		check_auth_request(in, n);
		break;
	}
	return 0;
}
