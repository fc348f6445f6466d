/* log_safe: peer strings in log lines stay one token of one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void test_plain_names_pass(void **state)
{
	char out[LOG_SAFE_LEN];
	(void)state;

	assert_string_equal(log_safe("alice", out, sizeof(out)), "alice");
	assert_string_equal(log_safe("publickey", out, sizeof(out)), "publickey");
	assert_string_equal(log_safe("", out, sizeof(out)), "");
}

static void test_newlines_quotes_and_escapes_are_escaped(void **state)
{
	char out[LOG_SAFE_LEN];
	(void)state;

	/* a forged second line, an ANSI escape, quotes, backslash, '=' and spaces */
	log_safe("x\nINFO auth attempt remote_addr=1.2.3.4 result=accept", out, sizeof(out));
	assert_null(strchr(out, '\n'));
	assert_null(strchr(out, ' '));
	assert_null(strchr(out, '='));
	assert_string_equal(log_safe("a\x1b[31mb", out, sizeof(out)), "a\\x1b[31mb");
	assert_string_equal(log_safe("q\"b\\s=t", out, sizeof(out)), "q\\x22b\\x5cs\\x3dt");
	assert_string_equal(log_safe("a b\r\t\x7f\xff", out, sizeof(out)),
			    "a\\x20b\\x0d\\x09\\x7f\\xff");
}

static void test_long_strings_are_cut_and_marked(void **state)
{
	char in[300], out[LOG_SAFE_LEN];
	(void)state;

	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	log_safe(in, out, sizeof(out));
	assert_int_equal(strlen(out), LOG_SAFE_MAX_IN + 3);
	assert_string_equal(out + LOG_SAFE_MAX_IN, "...");
	/* every byte escaped: the output still fits LOG_SAFE_LEN */
	memset(in, '\n', sizeof(in) - 1);
	log_safe(in, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	assert_string_equal(out + strlen(out) - 3, "...");
	/* a small buffer is never overrun */
	char tiny[LOG_SAFE_MIN];
	log_safe(in, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
	char too_small[4] = "zzz";
	log_safe(in, too_small, sizeof(too_small));
	assert_string_equal(too_small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names_pass),
		cmocka_unit_test(test_newlines_quotes_and_escapes_are_escaped),
		cmocka_unit_test(test_long_strings_are_cut_and_marked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
