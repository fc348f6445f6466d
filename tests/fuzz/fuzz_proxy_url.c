/* Proxy URLs (src/proxy/proxy_url.h): --proxy, --proxy-file, ALKNET_PROXY. What parses must
 * describe itself without its password, and the description parses back to the same scheme,
 * host, port and user; what doesn't parse gets a reason that never quotes the URL. */
#include <stdbool.h>
#include <stdio.h>

#include "fuzz_common.h"
#include "proxy/proxy_url.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_url *u = NULL, *u2 = NULL;
	char err[160], desc[512];
	char *s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	if (proxy_url_parse(s, &u, err, sizeof(err)) != 0) {
		FUZZ_CHECK(u == NULL && err[0] != '\0');
		/* The reasons are fixed texts: the URL (and any password in it) is never quoted. */
		if (strlen(s) >= 12)
			FUZZ_CHECK(strstr(err, s) == NULL);
		free(s);
		return 0;
	}
	FUZZ_CHECK(u->host != NULL && u->host[0] != '\0' && u->port != 0);
	FUZZ_CHECK(u->scheme >= PROXY_SOCKS5 && u->scheme <= PROXY_HTTP);
	FUZZ_CHECK(u->pass == NULL || u->user != NULL);
	/* The description never shows the password: swap in a marker no description can hold
	 * (user names are %-encoded, hosts are plain names or addresses). */
	char marker[] = "\x01secret\x01", *pass = u->pass;
	if (pass)
		u->pass = marker;
	proxy_url_describe(u, desc, sizeof(desc));
	FUZZ_CHECK(strstr(desc, marker) == NULL && strchr(desc, '\x01') == NULL);
	u->pass = pass;
	proxy_url_describe(u, desc, sizeof(desc));
	if (u->user == NULL || strlen(u->user) < 60) {
		/* Short enough that describe didn't truncate: it must parse back the same. */
		FUZZ_CHECK(proxy_url_parse(desc, &u2, err, sizeof(err)) == 0);
		FUZZ_CHECK(u2->scheme == u->scheme && u2->port == u->port);
		FUZZ_CHECK(strcmp(u2->host, u->host) == 0 && u2->pass == NULL);
		/* An empty user name ("http://:pw@h:1") describes as "http://@h:1": no user. */
		const char *a = u->user ? u->user : "", *b = u2->user ? u2->user : "";
		FUZZ_CHECK(strcmp(a, b) == 0);
		proxy_url_free(u2);
	}
	proxy_url_free(u);
	free(s);
	return 0;
}
