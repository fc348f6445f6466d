/* The --config file: its syntax (config_file.c) and every keyword's value parser (config.c),
 * on arbitrary bytes. Input: the file's content. Checks that each problem was reported as
 * "NAME:LINE: ..." and that accepted values are within their documented bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct diag d;
	char *text = xmalloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	diag_init(&d, DIAG_QUIET);
	config_defaults(&cfg);
	config_apply_text(&cfg, "f", text, size, &d);
	if (d.errors > 0 && strncmp(d.first, "f:", 2) != 0)
		abort();
	if (cfg.n_listen > CONFIG_MAX_LISTEN || cfg.max_auth_attempts < 1 ||
	    cfg.max_auth_attempts > 1000 || cfg.startups_begin > cfg.startups_full ||
	    cfg.startups_rate > 100 || cfg.max_channels < 1 || cfg.max_channels > 65536)
		abort();
	for (unsigned i = 0; i < cfg.n_listen; i++) {
		if (cfg.listen[i].str == NULL || cfg.listen[i].len == 0)
			abort();
	}
	config_free(&cfg);
	return 0;
}
