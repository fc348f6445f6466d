/* alknet: an SSH server for TCP tunnels only. Only this file calls exit(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

/* Exit status: 0 stopped normally (or --check found nothing), 1 failed at run time (or --check
 * found problems), 2 bad command line or configuration. */
static bool wants_check(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			return true;
	}
	return false;
}

/* --check: cfg is taken over (by server_check, or freed here after a parse error). All good:
 * the effective algorithm lists (like `sshd -T`), then "configuration ok". */
static int check(struct config *cfg, unsigned problems, struct diag *d)
{
	char *algs = NULL;

	if (problems == 0) {
		log_set_level(LOG_WARN);
		log_set_plain(true);
		algs = config_algorithms_text(cfg);
		problems = server_check(cfg, d);
	} else {
		config_free(cfg);
		free(cfg);
	}
	if (problems == 0)
		printf("%sconfiguration ok\n", algs);
	free(algs);
	return problems == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct server srv;
	struct diag d;

	diag_init(&d, wants_check(argc, argv) ? DIAG_PLAIN : DIAG_STDERR);
	enum config_result r = config_parse(argc, argv, cfg, &d);
	if (r == CONFIG_EXIT || (r == CONFIG_ERROR && !cfg->check)) {
		config_free(cfg);
		free(cfg);
		return r == CONFIG_EXIT ? 0 : 2;
	}
	if (cfg->check)
		return check(cfg, d.errors, &d);
	int status = 1;
	if (server_init(&srv, cfg, argc, argv) == 0)
		status = server_run(&srv);
	server_free(&srv);
	return status;
}
