/* Unit tests for the configuration file (config_file.c syntax, config.c keywords): what each
 * line form becomes, and the FILE:LINE message of each kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addrmatch.h"
#include "config.h"
#include "config_file.h"
#include "diag.h"
#include "xmalloc.h"

struct seen {
	char lines[8][128];
	unsigned n, bad;
	char err[128];
};

static int on_setting(void *ctx, unsigned line, const char *kw, const char *val)
{
	struct seen *s = ctx;

	snprintf(s->lines[s->n++ % 8], sizeof(s->lines[0]), "%u|%s|%s", line, kw, val);
	return 0;
}

static void on_error(void *ctx, unsigned line, const char *msg)
{
	struct seen *s = ctx;

	snprintf(s->err, sizeof(s->err), "%u: %s", line, msg);
}

static struct seen split(const char *text)
{
	struct seen s = {0};
	char *t = xstrdup(text);

	s.bad = config_file_parse(t, strlen(t), on_setting, on_error, &s);
	free(t);
	return s;
}

static void test_line_forms(void **state)
{
	(void)state;
	struct seen s = split("# comment\n\n  \t\nkey /a b\nlisten=1.2.3.4:5\r\n"
			      "  proxy-file  \"/x y/z\"  \nlog-level = debug\nmax-channels\t7");
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.lines[0], "4|key|/a b");
	assert_string_equal(s.lines[1], "5|listen|1.2.3.4:5");
	assert_string_equal(s.lines[2], "6|proxy-file|/x y/z");
	assert_string_equal(s.lines[3], "7|log-level|debug");
	assert_string_equal(s.lines[4], "8|max-channels|7");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	assert_string_equal(split("a 1\nkey\n").err, "2: missing value");
	assert_string_equal(split("key \"x\n").err, "1: unterminated quote");
	assert_string_equal(split("key \"x\" y\n").err, "1: text after the closing quote");
	assert_string_equal(split("ke!y 1\n").err, "1: expected: keyword value");
	assert_string_equal(split("=1\n").err, "1: expected: keyword value");
	char nul[] = "key a\0b\n";
	struct seen s = {0};
	char *t = xmalloc(sizeof(nul));
	memcpy(t, nul, sizeof(nul));
	assert_int_equal(config_file_parse(t, sizeof(nul) - 1, on_setting, on_error, &s), 1);
	assert_string_equal(s.err, "1: NUL byte in line");
	free(t);
	char *big = xmalloc(CONFIG_FILE_LINE_MAX + 16);
	memset(big, 'a', CONFIG_FILE_LINE_MAX + 8);
	memcpy(big, "key ", 4);
	big[CONFIG_FILE_LINE_MAX + 8] = '\0';
	assert_string_equal(split(big).err, "1: line too long");
	free(big);
}

/* Applies text as a config file named "f"; returns the diag. */
static struct diag apply(struct config *cfg, const char *text)
{
	struct diag d;

	diag_init(&d, DIAG_QUIET);
	config_defaults(cfg);
	config_apply_text(cfg, "f", xstrdup(text), strlen(text), &d);
	return d;
}

static void test_keywords_set_values(void **state)
{
	struct config cfg;
	(void)state;
	struct diag d = apply(&cfg, "key /k\nauthorized-keys /ak\nlisten 127.0.0.1:1\n"
				    "listen [::1]:2\nmax-startups 5:50:20\nMAX-AUTH-ATTEMPTS 4\n"
				    "log-level warn\n");
	assert_int_equal(d.errors, 0);
	assert_string_equal(cfg.key_path, "/k");
	assert_string_equal(cfg.authorized_keys_path, "/ak");
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[1].str, "[::1]:2");
	assert_int_equal(cfg.startups_begin, 5);
	assert_int_equal(cfg.startups_rate, 50);
	assert_int_equal(cfg.startups_full, 20);
	assert_int_equal(cfg.max_auth_attempts, 4);
	assert_int_equal(cfg.log_level, LOG_WARN);
	char buf[64];
	config_listen_str(&cfg, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:1,[::1]:2");
	config_free(&cfg);
}

static void test_keyword_errors_name_file_and_line(void **state)
{
	struct config cfg;
	(void)state;
	struct diag d = apply(&cfg, "max-channels 0\n");
	assert_string_equal(d.first, "f:1: max-channels: '0' is not a number from 1 to 65536");
	config_free(&cfg);
	d = apply(&cfg, "\nnope 1\n");
	assert_string_equal(d.first, "f:2: unknown keyword 'nope' (see alknet --help)");
	config_free(&cfg);
	d = apply(&cfg, "help 1\n");
	assert_string_equal(d.first, "f:1: 'help' is a command-line option only");
	config_free(&cfg);
	d = apply(&cfg, "drain-timeout 1\n#\ndrain-timeout 2\n");
	assert_string_equal(d.first, "f:3: drain-timeout given twice (first on line 1)");
	config_free(&cfg);
	d = apply(&cfg, "log-level loud\nlisten nowhere\n");
	assert_int_equal(d.errors, 2);
	assert_string_equal(d.first,
			    "f:1: log-level: 'loud' is not one of error, warn, info, debug");
	config_free(&cfg);
	char many[2048] = "";
	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "listen 127.0.0.1:%d\n",
			 i + 1);
	d = apply(&cfg, many);
	assert_string_equal(d.first, "f:17: listen: more than 16 addresses");
	config_free(&cfg);
}

static void test_proxy_protocol(void **state)
{
	struct config cfg;
	(void)state;
	struct diag d =
		apply(&cfg, "proxy-protocol v2\nproxy-protocol-from 127.0.0.1, 10.0.0.0/8\n");
	assert_int_equal(d.errors, 0);
	assert_int_equal(cfg.proxy_protocol, 2);
	assert_non_null(cfg.proxy_protocol_from);
	assert_int_equal(cfg.proxy_protocol_from->n, 2);
	config_free(&cfg);
	d = apply(&cfg, "proxy-protocol any\n");
	assert_int_equal(cfg.proxy_protocol, 3);
	config_free(&cfg);
	d = apply(&cfg, "\nproxy-protocol v3\n");
	assert_string_equal(d.first, "f:2: proxy-protocol: 'v3' is not off, v1, v2 or any");
	config_free(&cfg);
	d = apply(&cfg, "proxy-protocol-from 10.0.0.1/8\n");
	assert_int_equal(d.errors, 1);
	assert_true(strncmp(d.first, "f:1: proxy-protocol-from: ", 26) == 0);
	config_free(&cfg);
}

/* --control and its limits: defaults, values, FILE:LINE messages, the queue/frame check. */
static void test_control_options(void **state)
{
	struct config cfg;
	(void)state;
	struct diag d = apply(&cfg, "");
	assert_false(cfg.control_allow);
	assert_int_equal(cfg.control_max_frame, 1048576);
	assert_int_equal(cfg.control_max_queue, 4194304);
	config_free(&cfg);
	d = apply(&cfg, "control allow\ncontrol-max-frame 64K\ncontrol-max-queue 128K\n");
	assert_int_equal(d.errors, 0);
	assert_true(cfg.control_allow);
	assert_int_equal(cfg.control_max_frame, 65536);
	assert_int_equal(cfg.control_max_queue, 131072);
	config_free(&cfg);
	d = apply(&cfg, "control yes\n");
	assert_string_equal(d.first, "f:1: control: 'yes' is not allow or deny");
	config_free(&cfg);
	d = apply(&cfg, "\ncontrol-max-frame 65M\n");
	assert_string_equal(
		d.first, "f:2: control-max-frame: '65M' is not a size from 64 to 67108864 bytes");
	config_free(&cfg);
	d = apply(&cfg, "control-max-queue 1K\n");
	assert_string_equal(d.first, "f:1: control-max-queue: '1K' is not a size from "
				     "65536 to 1073741824 bytes");
	config_free(&cfg);
	char *argv[] = {"alknet",
			"serve",
			"--key",
			"/k",
			"--authorized-keys",
			"/ak",
			"--control-max-frame",
			"1M",
			"--control-max-queue",
			"1M",
			NULL};
	diag_init(&d, DIAG_QUIET);
	assert_int_equal(config_parse(10, argv, &cfg, &d), CONFIG_ERROR);
	assert_string_equal(d.first, "command line: control-max-queue: 1048576 is less than twice "
				     "control-max-frame (1048576)");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_forms),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_keywords_set_values),
		cmocka_unit_test(test_keyword_errors_name_file_and_line),
		cmocka_unit_test(test_proxy_protocol),
		cmocka_unit_test(test_control_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
