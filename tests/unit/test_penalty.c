/* Unit tests for src/penalty.c: the --per-source-penalty spec and the penalty table, with
 * the time passed in (no clocks). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "penalty.h"

static const uint8_t SRC_A[5] = {4, 127, 0, 0, 2};
static const uint8_t SRC_B[5] = {4, 127, 0, 0, 3};

static void parse_bad(const char *s, const char *why)
{
	struct penalty_cfg c;
	char err[128] = "";

	penalty_cfg_default(&c);
	c.authfail_s = 77;
	assert_int_equal(penalty_parse(s, &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(c.authfail_s, 77); /* unchanged on error */
	assert_non_null(strstr(err, why));
}

static void test_defaults_are_openssh(void **state)
{
	(void)state;
	struct penalty_cfg c;
	penalty_cfg_default(&c);
	assert_false(c.off);
	assert_int_equal(c.authfail_s, 5);
	assert_int_equal(c.noauth_s, 1);
	assert_int_equal(c.grace_s, 10);
	assert_int_equal(c.max_s, 600);
	assert_int_equal(c.min_s, 15);
	assert_int_equal(penalty_seconds(&c, PENALTY_AUTHFAIL), 5);
	assert_int_equal(penalty_seconds(&c, PENALTY_NOAUTH), 1);
	assert_int_equal(penalty_seconds(&c, PENALTY_GRACE), 10);
}

static void test_parse_overrides(void **state)
{
	(void)state;
	struct penalty_cfg c;
	char err[128];
	assert_int_equal(penalty_parse("authfail:2, min:4 ,max:1m", &c, err, sizeof(err)), 0);
	assert_int_equal(c.authfail_s, 2);
	assert_int_equal(c.min_s, 4);
	assert_int_equal(c.max_s, 60);
	assert_int_equal(c.noauth_s, 1); /* not named: the default */
	assert_int_equal(c.grace_s, 10);
	assert_int_equal(penalty_parse("grace-exceeded:2h,noauth:0s,max:24h", &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.grace_s, 7200);
	assert_int_equal(c.noauth_s, 0);
	assert_int_equal(c.max_s, 86400);
	assert_int_equal(penalty_parse("off", &c, err, sizeof(err)), 0);
	assert_true(c.off);
}

static void test_parse_refuses(void **state)
{
	(void)state;
	parse_bad("", "empty entry");
	parse_bad("authfail:5,", "empty entry");
	parse_bad("authfail", "expected keyword:duration");
	parse_bad("crash:90", "unknown keyword");
	parse_bad("AUTHFAIL:5", "unknown keyword");
	parse_bad("authfail:5,authfail:6", "keyword given twice");
	parse_bad("authfail:", "bad duration");
	parse_bad("authfail:-1", "bad duration");
	parse_bad("authfail:5x", "bad duration");
	parse_bad("authfail:25h", "bad duration");
	parse_bad("authfail:86401", "bad duration");
	parse_bad("authfail:99999999999999999999", "bad duration");
	parse_bad("min:20,max:10", "min exceeds max");
	parse_bad("off,authfail:1", "expected keyword:duration");
}

/* Below min nothing is refused; penalties add up to min, then the source is refused until
 * what it earned has lapsed. Other sources are untouched. */
static void test_accumulates_to_min(void **state)
{
	(void)state;
	struct penalty_cfg c;
	penalty_cfg_default(&c); /* authfail 5, min 15 */
	struct penalty_table *t = penalty_table_new(&c, 0);
	uint64_t now = 1000000;

	penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_AUTHFAIL, now);
	assert_false(penalty_refused(t, SRC_A, sizeof(SRC_A), now));
	penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_AUTHFAIL, now);
	assert_false(penalty_refused(t, SRC_A, sizeof(SRC_A), now));
	penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_AUTHFAIL, now);
	assert_true(penalty_refused(t, SRC_A, sizeof(SRC_A), now));
	assert_false(penalty_refused(t, SRC_B, sizeof(SRC_B), now));
	assert_true(penalty_refused(t, SRC_A, sizeof(SRC_A), now + 14999));
	assert_false(penalty_refused(t, SRC_A, sizeof(SRC_A), now + 15000));
	assert_int_equal(penalty_sources(t), 0); /* the lapsed entry is gone */
	penalty_table_free(t);
}

/* Penalties lapse while they accumulate: slow failures never reach min. */
static void test_slow_failures_lapse(void **state)
{
	(void)state;
	struct penalty_cfg c;
	penalty_cfg_default(&c);
	struct penalty_table *t = penalty_table_new(&c, 0);

	for (uint64_t now = 0; now < 100000; now += 6000) {
		penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_AUTHFAIL, now);
		assert_false(penalty_refused(t, SRC_A, sizeof(SRC_A), now));
	}
	penalty_table_free(t);
}

static void test_capped_at_max(void **state)
{
	(void)state;
	struct penalty_cfg c;
	char err[64];
	assert_int_equal(penalty_parse("grace-exceeded:30,min:30,max:40", &c, err, sizeof(err)), 0);
	struct penalty_table *t = penalty_table_new(&c, 0);

	for (int i = 0; i < 10; i++)
		penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_GRACE, 0);
	assert_true(penalty_refused(t, SRC_A, sizeof(SRC_A), 39999));
	assert_false(penalty_refused(t, SRC_A, sizeof(SRC_A), 40000));
	penalty_table_free(t);
}

static void test_zero_and_off(void **state)
{
	(void)state;
	struct penalty_cfg c;
	char err[64];
	assert_int_equal(penalty_parse("noauth:0,min:0", &c, err, sizeof(err)), 0);
	struct penalty_table *t = penalty_table_new(&c, 0);
	penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_NOAUTH, 0);
	assert_int_equal(penalty_sources(t), 0);
	penalty_add(t, SRC_A, sizeof(SRC_A), PENALTY_AUTHFAIL, 0); /* min 0: at once */
	assert_true(penalty_refused(t, SRC_A, sizeof(SRC_A), 1));
	c.off = true;
	assert_false(penalty_refused(t, SRC_A, sizeof(SRC_A), 1));
	penalty_table_free(t);
}

/* A full table forgets the source penalised longest ago, never refuses to count a new one. */
static void test_bounded(void **state)
{
	(void)state;
	struct penalty_cfg c;
	char err[64];
	assert_int_equal(penalty_parse("authfail:20,min:1", &c, err, sizeof(err)), 0);
	struct penalty_table *t = penalty_table_new(&c, 3);
	uint8_t key[5] = {4, 10, 0, 0, 0};

	for (uint8_t i = 1; i <= 4; i++) {
		key[4] = i;
		penalty_add(t, key, sizeof(key), PENALTY_AUTHFAIL, i);
	}
	assert_int_equal(penalty_sources(t), 3);
	key[4] = 1;
	assert_false(penalty_refused(t, key, sizeof(key), 10)); /* evicted */
	for (uint8_t i = 2; i <= 4; i++) {
		key[4] = i;
		assert_true(penalty_refused(t, key, sizeof(key), 10));
	}
	/* Penalising 2 again makes 3 the oldest. */
	key[4] = 2;
	penalty_add(t, key, sizeof(key), PENALTY_AUTHFAIL, 11);
	key[4] = 5;
	penalty_add(t, key, sizeof(key), PENALTY_AUTHFAIL, 12);
	key[4] = 3;
	assert_false(penalty_refused(t, key, sizeof(key), 13));
	key[4] = 2;
	assert_true(penalty_refused(t, key, sizeof(key), 13));
	/* Expired entries go as new penalties come in. */
	key[4] = 6;
	penalty_add(t, key, sizeof(key), PENALTY_AUTHFAIL, 100000);
	assert_int_equal(penalty_sources(t), 1);
	penalty_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_openssh),
		cmocka_unit_test(test_parse_overrides),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_accumulates_to_min),
		cmocka_unit_test(test_slow_failures_lapse),
		cmocka_unit_test(test_capped_at_max),
		cmocka_unit_test(test_zero_and_off),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
