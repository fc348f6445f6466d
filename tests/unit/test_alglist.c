/* Unit tests for src/alglist.c: OpenSSH's algorithm-list syntax (a plain list, +, -, ^),
 * patterns, duplicates, unknown names and the empty result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alglist.h"

#define SUP                                                                                        \
	"chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,"  \
	"aes192-ctr,aes256-ctr"
#define DEF "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-ctr"
#define MACS_SUP                                                                                   \
	"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
#define MACS_DEF "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com"

static void ok(const char *def, const char *sup, const char *spec, const char *want)
{
	char *out = NULL, err[128] = "";

	if (alglist_edit(def, sup, spec, &out, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", spec, err);
	assert_string_equal(out, want);
	free(out);
}

static void bad(const char *spec, const char *want_err)
{
	char *out = NULL, err[128] = "";

	assert_int_equal(alglist_edit(DEF, SUP, spec, &out, err, sizeof(err)), -1);
	assert_null(out);
	assert_string_equal(err, want_err);
}

static void test_plain_list_replaces(void **state)
{
	(void)state;
	ok(DEF, SUP, "aes256-ctr", "aes256-ctr");
	ok(DEF, SUP, "aes192-ctr,aes128-gcm@openssh.com", "aes192-ctr,aes128-gcm@openssh.com");
	/* duplicates keep their first place */
	ok(DEF, SUP, "aes128-ctr,aes256-ctr,aes128-ctr", "aes128-ctr,aes256-ctr");
}

static void test_plus_appends(void **state)
{
	(void)state;
	ok(DEF, SUP, "+aes192-ctr", DEF ",aes192-ctr");
	/* already there: no change, no duplicate */
	ok(DEF, SUP, "+aes256-ctr,aes128-ctr", DEF ",aes128-ctr");
	ok(MACS_DEF, MACS_SUP, "+hmac-sha2-256,hmac-sha2-512", MACS_SUP);
	/* a pattern stands for what it matches, in the supported order */
	ok(MACS_DEF, MACS_SUP, "+hmac-sha2-*", MACS_SUP);
}

static void test_minus_removes(void **state)
{
	(void)state;
	ok(DEF, SUP, "-aes256-ctr", "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com");
	ok(MACS_DEF, MACS_SUP, "-hmac-sha2-256*", "hmac-sha2-512-etm@openssh.com");
	ok(DEF, SUP, "-*gcm*", "chacha20-poly1305@openssh.com,aes256-ctr");
	ok(DEF, SUP, "-aes\?\?\?-ctr", "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com");
	/* a supported name that is not in the default: nothing to remove */
	ok(DEF, SUP, "-aes192-ctr", DEF);
}

static void test_caret_puts_first(void **state)
{
	(void)state;
	ok(DEF, SUP, "^aes256-ctr",
	   "aes256-ctr,chacha20-poly1305@openssh.com,aes128-gcm@openssh.com");
	ok(DEF, SUP, "^aes256-gcm@openssh.com",
	   "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
	   "aes256-ctr");
	ok(DEF, SUP, "^aes*-ctr",
	   "aes128-ctr,aes192-ctr,aes256-ctr,chacha20-poly1305@openssh.com,aes128-gcm@openssh.com");
}

static void test_patterns_in_plain_list(void **state)
{
	(void)state;
	ok(DEF, SUP, "*", SUP);
	ok(DEF, SUP, "aes256*", "aes256-gcm@openssh.com,aes256-ctr");
	ok(DEF, SUP, "aes256-ctr,*-ctr", "aes256-ctr,aes128-ctr,aes192-ctr");
}

static void test_unknown_and_malformed(void **state)
{
	(void)state;
	bad("aes128-cbc", "unknown algorithm 'aes128-cbc'");
	bad("+3des-cbc", "unknown algorithm '3des-cbc'");
	bad("-arcfour", "unknown algorithm 'arcfour'");
	bad("^aes128-ctr,blowfish-cbc", "unknown algorithm 'blowfish-cbc'");
	bad("aes*-cbc", "'aes*-cbc' matches no supported algorithm");
	bad("-*-cbc", "'*-cbc' matches no supported algorithm");
	bad("", "empty algorithm list");
	bad("+", "empty algorithm list");
	bad("-", "empty algorithm list");
	bad("aes128-ctr,", "empty algorithm name in the list");
	bad(",aes128-ctr", "empty algorithm name in the list");
	bad("aes128-ctr,,aes256-ctr", "empty algorithm name in the list");
	bad("!aes128-ctr", "'!aes128-ctr': negation (!) is not supported here");
	bad("aes128-ctr aes256-ctr", "unknown algorithm 'aes128-ctr aes256-ctr'");
	bad("++aes128-ctr", "unknown algorithm '+aes128-ctr'");
	/* names are case-sensitive, as on the wire */
	bad("AES128-CTR", "unknown algorithm 'AES128-CTR'");
	/* unprintable bytes are not echoed; long names are cut */
	bad("aes\x01\x7f", "unknown algorithm 'aes\?\?'");
	char long_name[200];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	char *out = NULL, err[128];
	assert_int_equal(alglist_edit(DEF, SUP, long_name, &out, err, sizeof(err)), -1);
	assert_int_equal(strlen(err), strlen("unknown algorithm ''") + 64 + 3);
	/* errlen 0: no message, still refused */
	assert_int_equal(alglist_edit(DEF, SUP, "nope", &out, NULL, 0), -1);
}

static void test_empty_result_refused(void **state)
{
	(void)state;
	bad("-*", "no algorithm left in the list");
	bad("-chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-ctr",
	    "no algorithm left in the list");
	bad("-aes*,chacha*", "no algorithm left in the list");
}

static void test_match(void **state)
{
	(void)state;
	assert_true(alglist_match("*", 1, "", 0));
	assert_true(alglist_match("", 0, "", 0));
	assert_false(alglist_match("", 0, "a", 1));
	assert_true(alglist_match("a*b*c", 5, "aXXbYYc", 7));
	assert_false(alglist_match("a*b*c", 5, "aXXbYY", 6));
	assert_true(alglist_match("a?c", 3, "abc", 3));
	assert_false(alglist_match("a?c", 3, "ac", 2));
	assert_true(alglist_match("**a**", 5, "bab", 3));
	assert_false(alglist_match("*a*a*a*a*a*b", 12, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 36));
	/* lengths, not NULs, bound both */
	assert_true(alglist_match("abc", 2, "abX", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_list_replaces),
		cmocka_unit_test(test_plus_appends),
		cmocka_unit_test(test_minus_removes),
		cmocka_unit_test(test_caret_puts_first),
		cmocka_unit_test(test_patterns_in_plain_list),
		cmocka_unit_test(test_unknown_and_malformed),
		cmocka_unit_test(test_empty_result_refused),
		cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
