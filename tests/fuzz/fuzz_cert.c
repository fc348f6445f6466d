/* ssh_cert_parse: OpenSSH certificate blobs as clients send them in USERAUTH_REQUEST
 * (PROTOCOL.certkeys), then cert_check on what parses, against its own CA key, from 127.0.0.1
 * and ::1 (so source-address lists get parsed and matched). Whatever parses must hold: every
 * field inside its bound, names NUL-free, the signed part a prefix of the blob followed by
 * exactly the signature, no option name twice; a refusal has a reason and grants nothing. */
#include <arpa/inet.h>
#include <stdbool.h>

#include "auth/cert.h"
#include "fuzz_common.h"
#include "ssh/buf.h"
#include "ssh/key_cert.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_options(const struct ssh_cert_option *o, size_t n, const struct ssh_cert *c)
{
	FUZZ_CHECK(n <= SSH_CERT_MAX_OPTIONS);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(strlen(o[i].name) <= SSH_CERT_MAX_NAME);
		FUZZ_CHECK(o[i].data >= c->blob && o[i].data + o[i].len <= c->blob + c->len);
		FUZZ_CHECK(ssh_cert_option_find(o, n, o[i].name) == &o[i]);
	}
}

static void check_login(const struct ssh_cert *c, const char *user, int family, const char *a)
{
	struct sockaddr_storage ss = {0};
	struct cert_grant g;

	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	struct cert_ctx ctx = {.user = user, .peer = &ss, .now = 1700000000, .skew = 60};
	const char *why = cert_check(c, c->ca_key, NULL, 0, &ctx, &g);
	if (why != NULL)
		FUZZ_CHECK(*why != '\0' && !g.port_forwarding && !g.force_command);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssh_cert *c = NULL;
	char err[128] = "", fp[SSH_KEY_FP_LEN];
	uint8_t *blob = malloc(size ? size : 1); /* exact size: ASan sees any overread */

	memcpy(blob, data, size);
	if (ssh_cert_parse(blob, size, &c, err, sizeof(err)) != 0) {
		FUZZ_CHECK(c == NULL && err[0] != '\0');
		free(blob);
		return 0;
	}
	FUZZ_CHECK(c->len == size && memcmp(c->blob, data, size) == 0);
	FUZZ_CHECK(size <= SSH_CERT_MAX_BLOB);
	FUZZ_CHECK(c->key != NULL && c->ca_key != NULL && !ssh_key_has_private(c->key));
	FUZZ_CHECK(strlen(c->key_id) <= SSH_CERT_MAX_KEY_ID);
	FUZZ_CHECK(c->n_principals <= SSH_CERT_MAX_PRINCIPALS);
	for (size_t i = 0; i < c->n_principals; i++)
		FUZZ_CHECK(strlen(c->principals[i]) <= SSH_CERT_MAX_NAME);
	check_options(c->critical, c->n_critical, c);
	check_options(c->extensions, c->n_extensions, c);
	FUZZ_CHECK(c->signed_len + 4 + c->sig_len == c->len);
	FUZZ_CHECK(c->sig == c->blob + c->signed_len + 4);
	FUZZ_CHECK(strstr(c->type_name, SSH_CERT_SUFFIX) != NULL);
	ssh_cert_fingerprint(c, fp);
	FUZZ_CHECK(strlen(fp) == SSH_KEY_FP_LEN - 1);
	(void)ssh_cert_verify_ca(c);
	check_login(c, c->n_principals ? c->principals[0] : "me", AF_INET, "127.0.0.1");
	check_login(c, "me", AF_INET6, "::1");
	ssh_cert_free(c);
	free(blob);
	return 0;
}
