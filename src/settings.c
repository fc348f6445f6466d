/* Settings snapshots (settings.h). */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/authorized_keys.h"
#include "auth/cert.h"
#include "auth/revoked.h"
#include "config.h"
#include "diag.h"
#include "file.h"
#include "hostkey.h"
#include "log.h"
#include "policy_rules.h"
#include "ssh/key.h"
#include "transport/tls.h"
#include "xmalloc.h"

int settings_load_host_key(const char *path, struct ssh_key **out, struct diag *d)
{
	struct stat st;
	char err[256];

	if (file_check_mode(path, d) != 0)
		return -1;
	if (stat(path, &st) == -1) {
		diag_error(d, "%s: cannot read the host key: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		diag_error(d, "%s: host key is accessible by others (mode %04o); run: chmod 600 %s",
			   path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (ssh_key_load_private(path, out, err, sizeof(err)) != 0) {
		diag_error(d, "%s: host key: %s", path, err);
		return -1;
	}
	return 0;
}

static int load_authorized_keys(struct settings *set, struct diag *d)
{
	const char *path = set->cfg->authorized_keys_path;

	if (path == NULL)
		return 0; /* certificates only (--cert-authority) */
	if (file_check_mode(path, d) != 0)
		return -1;
	int ret = authkeys_load(path, &set->authkeys);
	if (ret != 0) {
		diag_error(d, "%s: cannot read the authorized keys: %s", path, strerror(-ret));
		return -1;
	}
	if (authkeys_count(set->authkeys) == 0 && set->cfg->cert_authority_path == NULL)
		log_warn("no usable keys in %s: nobody can log in", path);
	return 0;
}

/* --transport tls: the certificate chain and key, the key's file checked like the host key's
 * (it must stay readable by --user: reloads read it again). */
static int load_tls(struct settings *set, struct diag *d)
{
	const struct config *cfg = set->cfg;
	char err[300];

	if (!cfg->tls)
		return 0;
	if (file_check_mode(cfg->tls_cert, d) != 0 || file_check_mode(cfg->tls_key, d) != 0)
		return -1;
	set->tls = tls_ctx_new(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
	if (set->tls == NULL) {
		diag_error(d, "%s", err);
		return -1;
	}
	return 0;
}

#define POLICY_FILE_MAX (1024 * 1024)

/* --policy FILE and --deny-private; errors as FILE:LINE:COLUMN. */
static int load_policy(struct settings *set, struct diag *d)
{
	const char *path = set->cfg->policy_path;
	struct policy_rules_error err;
	uint8_t *text = NULL;
	size_t len = 0;

	if (path == NULL && !set->cfg->deny_private)
		return 0;
	if (path != NULL) {
		if (file_check_mode(path, d) != 0)
			return -1;
		int ret = file_read_small(path, POLICY_FILE_MAX, &text, &len);
		if (ret != 0) {
			diag_error(d, "%s: cannot read the policy: %s", path,
				   ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
			return -1;
		}
	}
	int ret = policy_rules_parse((const char *)text, len, set->cfg->deny_private, &set->policy,
				     &err);
	free(text);
	if (ret != 0) {
		diag_error(d, "%s:%u:%u: %s", path, err.line, err.col, err.msg);
		return -1;
	}
	return 0;
}

/* --cert-authority and --revoked-keys: a line that doesn't parse fails the load (FILE:LINE),
 * so a reload keeps the snapshot it had. */
static int load_cert_files(struct settings *set, struct diag *d)
{
	const struct config *cfg = set->cfg;
	char err[DIAG_MSG_MAX - 64];

	if (cfg->cert_authority_path != NULL) {
		if (file_check_mode(cfg->cert_authority_path, d) != 0)
			return -1;
		if (cert_cas_load(cfg->cert_authority_path, &set->cas, err, sizeof(err)) != 0) {
			diag_error(d, "%s", err);
			return -1;
		}
		if (cert_cas_count(set->cas) == 0)
			log_warn("no CA keys in %s: no certificate can log in",
				 cfg->cert_authority_path);
	}
	if (cfg->revoked_keys_path != NULL) {
		if (file_check_mode(cfg->revoked_keys_path, d) != 0)
			return -1;
		if (revoked_load(cfg->revoked_keys_path, &set->revoked, err, sizeof(err)) != 0) {
			diag_error(d, "%s", err);
			return -1;
		}
	}
	return 0;
}

/* The engine's settings, spelled out: the session bounds its output by out_limit. */
static void init_engine(struct settings *set)
{
	set->ssh.host_keys = &set->host_key;
	set->ssh.n_host_keys = 1;
	set->ssh.max_channels = set->cfg->max_channels;
	set->ssh.window = set->cfg->window_size;
	set->ssh.out_limit = 1024 * 1024;
	set->ssh.kex_algorithms = set->cfg->algs[SSH_ALG_KEX];
	set->ssh.ciphers = set->cfg->algs[SSH_ALG_CIPHER];
	set->ssh.macs = set->cfg->algs[SSH_ALG_MAC];
	set->ssh.host_key_algorithms = set->cfg->algs[SSH_ALG_HOSTKEY];
	set->stall_ms = 30000;
	/* Tests shorten the wait for a client that doesn't read. */
	const char *stall = getenv("ALKNET_TEST_STALL_MS");
	if (stall)
		set->stall_ms = (unsigned)strtoul(stall, NULL, 10);
	/* Tests shrink the re-key volume to force re-keys mid-transfer. */
	const char *rekey = getenv("ALKNET_TEST_REKEY_BYTES");
	if (rekey)
		set->ssh.rekey_bytes = strtoull(rekey, NULL, 10);
}

/* With --host-key-algorithms, the host key must be able to sign with one of them: else no
 * client could ever connect. 0, or -1 after reporting to d. */
static int check_host_key_algs(const struct settings *set, struct diag *d)
{
	const char *list = set->ssh.host_key_algorithms;

	if (list == NULL || set->host_key == NULL)
		return 0;
	const char *can = ssh_alg_for_key(set->host_key);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		for (const char *c = can; *c;) {
			size_t k = strcspn(c, ",");
			if (k == n && memcmp(c, p, n) == 0)
				return 0;
			c += k + (c[k] == ',');
		}
		p += n + (p[n] == ',');
	}
	diag_error(d,
		   "host-key-algorithms: the host key %s signs with %s, which is not in the list",
		   set->cfg->key_path ? set->cfg->key_path : "", can);
	return -1;
}

struct settings *settings_load(struct config *cfg, struct ssh_key *host_key, struct diag *d)
{
	struct settings *set = xcalloc(1, sizeof(*set));

	set->refs = 1;
	set->cfg = cfg;
	set->host_key = host_key;
	set->proxy = cfg->proxy;
	init_engine(set);
	if (check_host_key_algs(set, d) != 0 || load_authorized_keys(set, d) != 0 ||
	    load_cert_files(set, d) != 0 || load_tls(set, d) != 0 || load_policy(set, d) != 0) {
		settings_unref(set);
		return NULL;
	}
	return set;
}

const struct settings *settings_ref(const struct settings *set)
{
	((struct settings *)set)->refs++; /* the one mutable field (settings.h) */
	return set;
}

void settings_unref(const struct settings *cset)
{
	struct settings *set = (struct settings *)cset;

	if (set == NULL || --set->refs > 0)
		return;
	authkeys_free(set->authkeys);
	SSL_CTX_free(set->tls); /* connections still using it hold their own reference */
	policy_rules_free(set->policy);
	cert_cas_free(set->cas);
	revoked_free(set->revoked);
	config_free(set->cfg);
	free(set->cfg);
	free(set);
}
