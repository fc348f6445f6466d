/* The key exchange method table and its name lists (kex_methods.h). */
#include "kex_methods.h"

#include <string.h>

#define KEX_PQ_LIST                                                                                \
	"mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"
#define KEX_EC_LIST                                                                                \
	"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"    \
	"ecdh-sha2-nistp521"
#define KEX_DH_LIST                                                                                \
	",diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"                            \
	"diffie-hellman-group14-sha256"

const char KEX_DEFAULT_LIST[] = KEX_PQ_LIST KEX_EC_LIST;
const char KEX_SUPPORTED_LIST[] = KEX_PQ_LIST KEX_EC_LIST KEX_DH_LIST;

static const struct kex_method kex_methods[] = {
	{"mlkem768x25519-sha256", KEX_SHA256, kex_mlkem768x25519_reply},
	{"sntrup761x25519-sha512", KEX_SHA512, kex_sntrup761x25519_reply},
	{"sntrup761x25519-sha512@openssh.com", KEX_SHA512, kex_sntrup761x25519_reply},
	{"curve25519-sha256", KEX_SHA256, kex_curve25519_reply},
	{"curve25519-sha256@libssh.org", KEX_SHA256, kex_curve25519_reply},
	{"ecdh-sha2-nistp256", KEX_SHA256, kex_nistp256_reply},
	{"ecdh-sha2-nistp384", KEX_SHA384, kex_nistp384_reply},
	{"ecdh-sha2-nistp521", KEX_SHA512, kex_nistp521_reply},
	{"diffie-hellman-group16-sha512", KEX_SHA512, kex_dh_group16_reply},
	{"diffie-hellman-group18-sha512", KEX_SHA512, kex_dh_group18_reply},
	{"diffie-hellman-group14-sha256", KEX_SHA256, kex_dh_group14_reply},
};

const struct kex_method *kex_method_find_n(const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < sizeof(kex_methods) / sizeof(kex_methods[0]); i++) {
		const char *m = kex_methods[i].name;
		if (strlen(m) == len && memcmp(m, name, len) == 0)
			return &kex_methods[i];
	}
	return NULL;
}

const struct kex_method *kex_method_find(const char *name)
{
	return name == NULL ? NULL : kex_method_find_n((const uint8_t *)name, strlen(name));
}

size_t kex_hash_len(enum kex_hash h)
{
	return h == KEX_SHA256 ? 32 : h == KEX_SHA384 ? 48 : 64;
}
