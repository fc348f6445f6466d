/* policy_rules_parse: a whole --policy file (rules, networks, globs, ports, comments, CRLF,
 * NULs, over-long lines), with and without --deny-private. A file that parses is matched
 * against fixed destinations, checking the promise the name check makes: when it refuses a
 * name, every address it may resolve to is refused too; for an IP literal, the name check and the
 * address check agree. A file that fails names a line and column inside it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "policy_rules.h"

static const char *const hosts[] = {"localhost", "a.example.com", "x.internal.example.com.",
				    "10.20.1.2", "::1",		  "169.254.169.254"};
static const char *const addrs[] = {"127.0.0.1", "10.20.1.2", "::1", "::ffff:169.254.169.254",
				    "192.0.2.7", "fe80::1"};
static const uint16_t ports[] = {1, 22, 80, 443, 65535};

static struct sockaddr_storage to_addr(const char *s)
{
	struct sockaddr_storage ss = {0};

	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
	}
	return ss;
}

static void check_matching(const struct policy_rules *p, const struct policy_subject *who)
{
	for (size_t h = 0; h < sizeof(hosts) / sizeof(*hosts); h++) {
		struct sockaddr_storage lit = to_addr(hosts[h]);
		for (size_t i = 0; i < sizeof(ports) / sizeof(*ports); i++) {
			enum policy_rules_verdict v =
				policy_rules_name(p, who, hosts[h], ports[i], false);
			FUZZ_CHECK(v == POLICY_RULES_DENY || v == POLICY_RULES_ALLOW ||
				   v == POLICY_RULES_DEPENDS);
			(void)policy_rules_name(p, who, hosts[h], ports[i], true);
			if (lit.ss_family != 0) {
				bool a = policy_rules_addr(p, who, hosts[h], ports[i],
							   (const struct sockaddr *)&lit);
				FUZZ_CHECK(v != POLICY_RULES_DEPENDS);
				FUZZ_CHECK(a == (v == POLICY_RULES_ALLOW));
			}
			/* a literal resolves to itself only: checked above */
			for (size_t j = 0; lit.ss_family == 0 && j < sizeof(addrs) / sizeof(*addrs);
			     j++) {
				struct sockaddr_storage ss = to_addr(addrs[j]);
				bool a = policy_rules_addr(p, who, hosts[h], ports[i],
							   (const struct sockaddr *)&ss);
				FUZZ_CHECK(!(v == POLICY_RULES_DENY && a));
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const principals[] = {"ops", NULL};
	const struct policy_subject who = {.key_fp = "SHA256:abc", .principals = principals};
	char *text = malloc(size ? size : 1); /* exact size, not NUL-terminated */
	size_t lines = 1;

	memcpy(text, data, size);
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	for (int dp = 0; dp < 2; dp++) {
		struct policy_rules *p = NULL;
		struct policy_rules_error err;
		if (policy_rules_parse(text, size, dp, &p, &err) == 0) {
			FUZZ_CHECK(p != NULL && policy_rules_count(p) <= lines + 1);
			check_matching(p, NULL);
			check_matching(p, &who);
			policy_rules_free(p);
		} else {
			FUZZ_CHECK(p == NULL && err.line >= 1 && err.line <= lines && err.col >= 1);
			FUZZ_CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)));
		}
	}
	free(text);
	return 0;
}
