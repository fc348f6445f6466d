/* control_frame.c: lengths, partial frames, the cap, control envelopes, reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control_frame.h"

/* A frame of json with its big-endian length in front, in buf; returns its size. */
static size_t frame(uint8_t *buf, const char *json)
{
	size_t n = strlen(json);

	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, json, n);
	return n + 4;
}

static void test_whole_and_partial_frames(void **state)
{
	uint8_t b[256];
	struct control_frame f;
	(void)state;
	size_t n = frame(b, "{\"type\":\"chat\",\"id\":\"1\",\"payload\":{\"text\":\"hi\"}}");
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(control_frame_parse(b, cut, 1024, &f), CONTROL_FRAME_MORE);
	b[n] = 0xff; /* the next frame's first byte does not matter */
	assert_int_equal(control_frame_parse(b, n + 1, 1024, &f), CONTROL_FRAME_OK);
	assert_int_equal(f.len, n);
	assert_int_equal(f.kind, CONTROL_PUBLISH);
	assert_string_equal(f.env.type, "chat");
}

static void test_lengths(void **state)
{
	uint8_t b[64] = {0};
	struct control_frame f;
	(void)state;
	assert_int_equal(control_frame_parse(b, 4, 1024, &f), CONTROL_FRAME_EMPTY);
	/* over the cap: refused from the header alone */
	b[2] = 0x04;
	b[3] = 0x01; /* 1025 */
	assert_int_equal(control_frame_parse(b, 4, 1024, &f), CONTROL_FRAME_TOO_BIG);
	memset(b, 0xff, 4);
	assert_int_equal(control_frame_parse(b, 4, 1024, &f), CONTROL_FRAME_TOO_BIG);
	/* exactly the cap is fine */
	char json[64];
	memset(json, ' ', sizeof(json));
	memcpy(json, "{\"type\":\"x\"}", 12);
	json[40] = '\0';
	size_t n = frame(b, json);
	assert_int_equal(control_frame_parse(b, n, 40, &f), CONTROL_FRAME_OK);
	assert_int_equal(control_frame_parse(b, n, 39, &f), CONTROL_FRAME_TOO_BIG);
}

static void test_control_envelopes(void **state)
{
	uint8_t b[256];
	struct control_frame f;
	(void)state;
	size_t n = frame(b, "{\"type\":\"__subscribe\",\"payload\":{\"topic\":\"news\"}}");
	assert_int_equal(control_frame_parse(b, n, 1024, &f), CONTROL_FRAME_OK);
	assert_int_equal(f.kind, CONTROL_SUBSCRIBE);
	assert_string_equal(f.env.topic, "news");
	n = frame(b, "{\"type\":\"__unsubscribe\",\"id\":\"7\",\"payload\":{\"topic\":\"news\"}}");
	assert_int_equal(control_frame_parse(b, n, 1024, &f), CONTROL_FRAME_OK);
	assert_int_equal(f.kind, CONTROL_UNSUBSCRIBE);
	static const char *const no_topic[] = {
		"{\"type\":\"__subscribe\"}",
		"{\"type\":\"__subscribe\",\"payload\":{}}",
		"{\"type\":\"__subscribe\",\"payload\":{\"topic\":\"\"}}",
		"{\"type\":\"__unsubscribe\",\"payload\":{\"topic\":[\"a\"]}}",
		"{\"type\":\"__subscribe\",\"payload\":{\"topic\":\"a\",\"topic\":\"b\"}}",
	};
	for (size_t i = 0; i < sizeof(no_topic) / sizeof(no_topic[0]); i++) {
		n = frame(b, no_topic[i]);
		assert_int_equal(control_frame_parse(b, n, 1024, &f), CONTROL_FRAME_NO_TOPIC);
	}
	/* other names, even with a topic, are ordinary events */
	n = frame(b, "{\"type\":\"__Subscribe\",\"payload\":{\"topic\":\"news\"}}");
	assert_int_equal(control_frame_parse(b, n, 1024, &f), CONTROL_FRAME_OK);
	assert_int_equal(f.kind, CONTROL_PUBLISH);
}

static void test_bad_json_and_reasons(void **state)
{
	uint8_t b[256];
	struct control_frame f;
	(void)state;
	size_t n = frame(b, "{\"type\":\"x\",}");
	assert_int_equal(control_frame_parse(b, n, 1024, &f), CONTROL_FRAME_BAD_JSON);
	assert_int_equal(f.json_err, JSON_ERR_SYNTAX);
	assert_string_equal(control_frame_reason(CONTROL_FRAME_BAD_JSON, &f), "invalid JSON");
	n = frame(b, "{\"id\":\"1\"}");
	assert_int_equal(control_frame_parse(b, n, 1024, &f), CONTROL_FRAME_BAD_JSON);
	assert_string_equal(control_frame_reason(CONTROL_FRAME_BAD_JSON, &f), "missing type");
	assert_string_equal(control_frame_reason(CONTROL_FRAME_EMPTY, &f), "bad frame length 0");
	assert_string_equal(control_frame_reason(CONTROL_FRAME_TOO_BIG, &f),
			    "frame larger than --control-max-frame");
	assert_string_equal(control_frame_reason(CONTROL_FRAME_NO_TOPIC, &f),
			    "subscribe or unsubscribe without payload.topic");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_partial_frames),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_control_envelopes),
		cmocka_unit_test(test_bad_json_and_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
