/* Unit tests for src/file.c: whole small files, the size bound (for regular files and for
 * pipes, whose size is unknown up front), and the errors callers report. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"

static char tmpdir[] = "/tmp/alknet-test-file-XXXXXX";

static const char *path(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

/* Writes n bytes of a pattern to name and returns its path. */
static const char *make_file(const char *name, size_t n)
{
	const char *p = path(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		fputc('a' + (int)(i % 26), f);
	}
	assert_int_equal(fclose(f), 0);
	return p;
}

static void check_pattern(const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != 'a' + i % 26) {
			fail_msg("byte %zu wrong", i);
		}
	}
	assert_int_equal(buf[n], '\0');
}

static void test_whole_file(void **state)
{
	static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 100000};
	(void)state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *buf = NULL;
		size_t len = 12345;
		const char *p = make_file("f", sizes[i]);
		assert_int_equal(file_read_small(p, 1024 * 1024, &buf, &len), 0);
		assert_non_null(buf);
		assert_int_equal(len, sizes[i]);
		check_pattern(buf, len);
		file_free_secret(buf, len);
	}
	file_free_secret(NULL, 0);
}

/* Exactly max bytes load; one more is -EFBIG, and the outputs are left alone. */
static void test_size_bound(void **state)
{
	uint8_t *buf = NULL, *untouched = (uint8_t *)"x";
	size_t len = 0;
	(void)state;

	const char *p = make_file("bound", 5000);
	assert_int_equal(file_read_small(p, 5000, &buf, &len), 0);
	assert_int_equal(len, 5000);
	check_pattern(buf, len);
	free(buf);
	buf = untouched;
	len = 7;
	assert_int_equal(file_read_small(p, 4999, &buf, &len), -EFBIG);
	assert_ptr_equal(buf, untouched);
	assert_int_equal(len, 7);
	assert_int_equal(file_read_small(p, 0, &buf, &len), -EFBIG);
	p = make_file("empty", 0);
	assert_int_equal(file_read_small(p, 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
}

/* A pipe has no size to go by: the buffer grows as bytes arrive, and the bound still holds. */
static void test_pipe(void **state)
{
	static const size_t sizes[] = {0, 10, 4096, 60000};
	(void)state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int fds[2];
		char name[64];
		uint8_t *data = malloc(sizes[i] + 1), *buf = NULL;
		size_t len = 0;

		assert_int_equal(pipe(fds), 0);
		for (size_t j = 0; j < sizes[i]; j++) {
			data[j] = (uint8_t)('a' + j % 26);
		}
		/* Fits in the pipe's 64 KiB buffer: no writer needs to run alongside. */
		assert_int_equal(write(fds[1], data, sizes[i]), (ssize_t)sizes[i]);
		close(fds[1]);
		snprintf(name, sizeof(name), "/dev/fd/%d", fds[0]);
		int want = sizes[i] > 5000 ? -EFBIG : 0;
		assert_int_equal(file_read_small(name, 5000, &buf, &len), want);
		if (want == 0) {
			assert_int_equal(len, sizes[i]);
			check_pattern(buf, len);
			file_free_secret(buf, len);
		}
		close(fds[0]);
		free(data);
	}
}

static void test_errors(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(file_read_small(path("nonexistent"), 100, &buf, &len), -ENOENT);
	assert_int_equal(file_read_small(tmpdir, 100, &buf, &len), -EISDIR);
	assert_int_equal(file_read_small("", 100, &buf, &len), -ENOENT);
	assert_null(buf);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_file),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
