/* Settings snapshots (settings.h). */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/authorized_keys.h"
#include "config.h"
#include "diag.h"
#include "file.h"
#include "hostkey.h"
#include "log.h"
#include "ssh/key.h"
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

	if (file_check_mode(path, d) != 0)
		return -1;
	int ret = authkeys_load(path, &set->authkeys);
	if (ret != 0) {
		diag_error(d, "%s: cannot read the authorized keys: %s", path, strerror(-ret));
		return -1;
	}
	if (authkeys_count(set->authkeys) == 0)
		log_warn("no usable keys in %s: nobody can log in", path);
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
	set->stall_ms = 30000;
	/* Tests shorten the wait for a client that doesn't read. */
	const char *stall = getenv("ALKNET_TEST_STALL_MS");
	if (stall)
		set->stall_ms = (unsigned)strtoul(stall, NULL, 10);
	/* Tests shrink the re-key volume to force re-keys mid-transfer. */
	const char *rekey = getenv("ALKNET_TEST_REKEY_BYTES");
	if (rekey)
		set->ssh.rekey_bytes = strtoull(rekey, NULL, 10);
	/* Tests choose the key exchange methods (the finite-field groups are off by default)
	 * until the --kex-algorithms option (issue 16, part B) takes this over. */
	set->ssh.kex_algorithms = getenv("ALKNET_TEST_KEX_ALGORITHMS");
}

struct settings *settings_load(struct config *cfg, struct ssh_key *host_key, struct diag *d)
{
	struct settings *set = xcalloc(1, sizeof(*set));

	set->refs = 1;
	set->cfg = cfg;
	set->host_key = host_key;
	set->proxy = cfg->proxy;
	init_engine(set);
	if (load_authorized_keys(set, d) != 0) {
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
	config_free(set->cfg);
	free(set->cfg);
	free(set);
}
