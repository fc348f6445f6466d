/* The algorithm lists of KEXINIT: the engine's defaults and what it supports (ssh.h), and the
 * session's configured lists (internal.h). */
#include <string.h>

#include "cipher.h"
#include "internal.h"
#include "kex_methods.h"
#include "key.h"

/* Key exchange methods: the ones kex.c has today. Issue 16 part A brings KEX_DEFAULT_LIST
 * and KEX_SUPPORTED_LIST; these two lines then name those. */
#define ALGS_KEX_DEFAULT   KEX_DEFAULT_LIST
#define ALGS_KEX_SUPPORTED KEX_SUPPORTED_LIST
/* Host key signatures: RSA with SHA-2 only (ssh-rsa's SHA-1 is not supported). */
#define ALGS_HOSTKEY                                                                               \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"                 \
	"rsa-sha2-512,rsa-sha2-256"

const char *ssh_alg_default(enum ssh_alg_kind kind)
{
	switch (kind) {
	case SSH_ALG_KEX:
		return ALGS_KEX_DEFAULT;
	case SSH_ALG_CIPHER:
		return cipher_default_list();
	case SSH_ALG_MAC:
		return mac_default_list();
	case SSH_ALG_HOSTKEY:
		return ALGS_HOSTKEY;
	}
	return NULL;
}

const char *ssh_alg_supported(enum ssh_alg_kind kind)
{
	switch (kind) {
	case SSH_ALG_KEX:
		return ALGS_KEX_SUPPORTED;
	case SSH_ALG_CIPHER:
		return cipher_supported_list();
	case SSH_ALG_MAC:
		return mac_supported_list();
	case SSH_ALG_HOSTKEY:
		return ALGS_HOSTKEY;
	}
	return NULL;
}

const char *ssh_alg_for_key(const struct ssh_key *key)
{
	return ssh_key_type(key) == SSH_KEY_RSA ? "rsa-sha2-512,rsa-sha2-256"
						: ssh_key_type_name(key);
}

const char *ssh_alg_list(const struct ssh *s, enum ssh_alg_kind kind)
{
	const char *const conf[SSH_ALG_KINDS] = {s->cfg.kex_algorithms, s->cfg.ciphers, s->cfg.macs,
						 s->cfg.host_key_algorithms};

	return conf[kind] ? conf[kind] : ssh_alg_default(kind);
}

bool alg_list_has(const char *list, const uint8_t *name, size_t len)
{
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == len && memcmp(p, name, len) == 0)
			return true;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}
