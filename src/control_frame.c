/* Control channel frames (control_frame.h). */
#include "control_frame.h"

#include <string.h>

static uint32_t get_len(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int classify(struct control_frame *out)
{
	const struct json_envelope *e = &out->env;

	out->kind = CONTROL_PUBLISH;
	if (e->type_len == 11 && memcmp(e->type, "__subscribe", 11) == 0)
		out->kind = CONTROL_SUBSCRIBE;
	else if (e->type_len == 13 && memcmp(e->type, "__unsubscribe", 13) == 0)
		out->kind = CONTROL_UNSUBSCRIBE;
	if (out->kind != CONTROL_PUBLISH && (!e->has_topic || e->topic_len == 0))
		return CONTROL_FRAME_NO_TOPIC;
	return CONTROL_FRAME_OK;
}

int control_frame_parse(const uint8_t *p, size_t n, size_t max_frame, struct control_frame *out)
{
	out->len = 0;
	out->json_err = JSON_OK;
	if (n < CONTROL_FRAME_HDR)
		return CONTROL_FRAME_MORE;
	uint32_t len = get_len(p);
	if (len == 0)
		return CONTROL_FRAME_EMPTY;
	if (len > max_frame)
		return CONTROL_FRAME_TOO_BIG;
	if (n - CONTROL_FRAME_HDR < len)
		return CONTROL_FRAME_MORE;
	out->json_err = json_parse_envelope(p + CONTROL_FRAME_HDR, len, &out->env);
	if (out->json_err != JSON_OK)
		return CONTROL_FRAME_BAD_JSON;
	out->len = CONTROL_FRAME_HDR + (size_t)len;
	return classify(out);
}

const char *control_frame_reason(int status, const struct control_frame *f)
{
	switch (status) {
	case CONTROL_FRAME_EMPTY:
		return "bad frame length 0";
	case CONTROL_FRAME_TOO_BIG:
		return "frame larger than --control-max-frame";
	case CONTROL_FRAME_BAD_JSON:
		return json_err_text(f->json_err);
	case CONTROL_FRAME_NO_TOPIC:
		return "subscribe or unsubscribe without payload.topic";
	default:
		return "";
	}
}
