#include "hostkey.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "file.h"
#include "ssh/key.h"

/* The largest RSA private key file (16384 bits) is about 12 KiB of text. */
#define HOSTKEY_FILE_MAX (64 * 1024)

int ssh_key_load_private(const char *path, struct ssh_key **out, char *err, size_t errlen)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int ret = file_read_small(path, HOSTKEY_FILE_MAX, &text, &len);

	if (ret == 0) {
		ret = ssh_key_parse_private((const char *)text, len, out, err, errlen);
	} else if (err != NULL && errlen > 0) {
		snprintf(err, errlen, "cannot read key file: %s",
			 ret == -EFBIG ? "file too large for a key" : strerror(-ret));
	}
	file_free_secret(text, len);
	return ret;
}
