/* json_validate and json_parse_envelope on any bytes: no crash or over-read (the input is an
 * exact-size copy), both agree on what is JSON, and the extracted fields keep their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);
	struct json_envelope e;

	memcpy(p, data, size);
	int v = json_validate(p, size);
	int r = json_parse_envelope(p, size, &e);
	FUZZ_CHECK(v == JSON_OK || v == JSON_ERR_SYNTAX || v == JSON_ERR_UTF8 ||
		   v == JSON_ERR_DEPTH);
	/* errors of form are the validator's, whatever the envelope */
	if (v != JSON_OK)
		FUZZ_CHECK(r == v);
	else
		FUZZ_CHECK(r == JSON_OK || r == JSON_ERR_NOT_OBJECT || r == JSON_ERR_NO_TYPE ||
			   r == JSON_ERR_DUPLICATE || r == JSON_ERR_LONG_NAME);
	if (r == JSON_OK) {
		FUZZ_CHECK(e.type_len >= 1 && e.type_len <= JSON_NAME_MAX);
		FUZZ_CHECK(e.type[e.type_len] == '\0');
		FUZZ_CHECK(size >= 2 + 8 + 2 + e.type_len / 6); /* {"type":"x"} at least */
	}
	if (r == JSON_OK && e.has_topic)
		FUZZ_CHECK(e.topic_len <= JSON_NAME_MAX && e.topic[e.topic_len] == '\0');
	FUZZ_CHECK(json_err_text(r) != NULL);
	free(p);
	return 0;
}
