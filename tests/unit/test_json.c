/* json.c: RFC 8259 acceptance and rejection, the envelope's fields, escapes, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static int valid(const char *s)
{
	return json_validate((const uint8_t *)s, strlen(s));
}

static int env(const char *s, struct json_envelope *e)
{
	return json_parse_envelope((const uint8_t *)s, strlen(s), e);
}

static void test_accepts_rfc8259_values(void **state)
{
	static const char *const ok[] = {
		"0",
		"-0",
		"1.5",
		"-12.5e+3",
		"1E-2",
		"1e9",
		"true",
		"false",
		"null",
		"\"\"",
		"\"a\\\"\\\\\\/\\b\\f\\n\\r\\tz\"",
		"\"\\u00e9\\uD83D\\uDE00\"",
		"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
		" [ ] ",
		"{}",
		"[1,[2,{\"a\":[]}],\"x\"]",
		"{\"a\":1,\"a\":2}",
		"\t\r\n{ \"k\" : null }\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(valid(ok[i]), JSON_OK);
}

static void test_rejects_what_rfc8259_does(void **state)
{
	static const char *const bad[] = {
		"",	     " ",	    "01",	 "-",
		"1.",	     ".5",	    "1e",	 "+1",
		"0x1",	     "NaN",	    "Infinity",	 "tru",
		"nul",	     "\"abc",	    "\"a\x01\"", "\"\\x\"",
		"\"\\u12\"", "\"\\u12G4\"", "[1,]",	 "[,1]",
		"{\"a\"}",   "{\"a\":}",    "{a:1}",	 "{\"a\":1,}",
		"{'a':1}",   "[1 2]",	    "{} {}",	 "1 2",
		"[",	     "]",	    "{\"a\":1",	 "\xef\xbb\xbf{}", /* a byte-order mark */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(valid(bad[i]), JSON_ERR_SYNTAX);
	assert_int_equal(json_validate((const uint8_t *)"[0\0]", 4), JSON_ERR_SYNTAX);
}

static void test_rejects_bad_utf8(void **state)
{
	static const char *const bad[] = {
		"\"\x80\"",		/* continuation byte first */
		"\"\xc0\xaf\"",		/* overlong '/' */
		"\"\xe0\x80\xaf\"",	/* overlong, 3 bytes */
		"\"\xed\xa0\x80\"",	/* an encoded surrogate */
		"\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
		"\"\xc3\"",		/* cut short */
		"\"\xff\"",
		"\"\\uD800\"",
		"\"\\uDC00\"",
		"\"\\uD800\\u0041\"",
		"\"\\uD800x\"",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(valid(bad[i]), JSON_ERR_UTF8);
	assert_int_equal(valid("\xc3\xa9"), JSON_ERR_SYNTAX); /* outside a string */
}

static void test_depth_is_bounded(void **state)
{
	char deep[2 * JSON_MAX_DEPTH + 3];
	(void)state;
	for (size_t n = JSON_MAX_DEPTH; n <= JSON_MAX_DEPTH + 1; n++) {
		memset(deep, '[', n);
		memset(deep + n, ']', n);
		deep[2 * n] = '\0';
		assert_int_equal(valid(deep), n == JSON_MAX_DEPTH ? JSON_OK : JSON_ERR_DEPTH);
	}
	/* a deep text far past the bound fails at the bound, not by running out of stack */
	size_t big = 1000000;
	char *p = malloc(big);
	memset(p, '[', big);
	assert_int_equal(json_validate((const uint8_t *)p, big), JSON_ERR_DEPTH);
	free(p);
}

static void test_envelope_fields(void **state)
{
	struct json_envelope e;
	(void)state;
	assert_int_equal(
		env("{\"type\":\"chat\",\"id\":\"1\",\"payload\":{\"topic\":\"t\",\"x\":[{}]}}",
		    &e),
		JSON_OK);
	assert_int_equal(e.type_len, 4);
	assert_string_equal(e.type, "chat");
	assert_true(e.has_topic);
	assert_string_equal(e.topic, "t");
	/* escapes are decoded; keys match only at their own level */
	assert_int_equal(env("{\"payload\":{\"type\":\"no\",\"x\":{\"topic\":\"no\"}},"
			     "\"t\\u0079pe\":\"\\u00e9v\"}",
			     &e),
			 JSON_OK);
	assert_string_equal(e.type, "\xc3\xa9v");
	assert_false(e.has_topic);
	assert_int_equal(env("{\"type\":\"a\",\"payload\":\"topic\"}", &e), JSON_OK);
	assert_false(e.has_topic);
	assert_int_equal(env("{\"type\":\"a\",\"payload\":{\"topic\":1}}", &e), JSON_OK);
	assert_false(e.has_topic);
	assert_int_equal(env("{\"type\":\"a\",\"payload\":{\"topic\":\"x\",\"topic\":\"y\"}}", &e),
			 JSON_OK);
	assert_false(e.has_topic); /* ambiguous: not used */
	assert_int_equal(env("{\"type\":\"a\\u0000b\"}", &e), JSON_OK);
	assert_int_equal(e.type_len, 3);
	assert_memory_equal(e.type, "a\0b", 3);
}

static void test_envelope_errors(void **state)
{
	struct json_envelope e;
	char big[JSON_NAME_MAX + 40];
	(void)state;
	assert_int_equal(env("[]", &e), JSON_ERR_NOT_OBJECT);
	assert_int_equal(env(" \"type\" ", &e), JSON_ERR_NOT_OBJECT);
	assert_int_equal(env("{}", &e), JSON_ERR_NO_TYPE);
	assert_int_equal(env("{\"id\":\"1\",\"payload\":{\"type\":\"x\"}}", &e), JSON_ERR_NO_TYPE);
	assert_int_equal(env("{\"type\":1}", &e), JSON_ERR_NO_TYPE);
	assert_int_equal(env("{\"type\":\"\"}", &e), JSON_ERR_NO_TYPE);
	assert_int_equal(env("{\"type\":null}", &e), JSON_ERR_NO_TYPE);
	assert_int_equal(env("{\"type\":\"a\",\"type\":\"b\"}", &e), JSON_ERR_DUPLICATE);
	assert_int_equal(env("{\"type\":\"a\",\"payload\":1,\"payload\":2}", &e),
			 JSON_ERR_DUPLICATE);
	/* a syntax error wins over a missing type */
	assert_int_equal(env("{\"id\":1,}", &e), JSON_ERR_SYNTAX);
	snprintf(big, sizeof(big), "{\"type\":\"%0*d\"}", JSON_NAME_MAX, 0);
	assert_int_equal(env(big, &e), JSON_OK);
	assert_int_equal(e.type_len, JSON_NAME_MAX);
	snprintf(big, sizeof(big), "{\"type\":\"%0*d\"}", JSON_NAME_MAX + 1, 0);
	assert_int_equal(env(big, &e), JSON_ERR_LONG_NAME);
	assert_string_equal(json_err_text(JSON_ERR_NO_TYPE), "missing type");
	assert_string_equal(json_err_text(JSON_ERR_SYNTAX), "invalid JSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_rfc8259_values),
		cmocka_unit_test(test_rejects_what_rfc8259_does),
		cmocka_unit_test(test_rejects_bad_utf8),
		cmocka_unit_test(test_depth_is_bounded),
		cmocka_unit_test(test_envelope_fields),
		cmocka_unit_test(test_envelope_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
