#include "file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "xmalloc.h"

/* First buffer when the size is unknown (pipes, /proc): most key files fit. */
#define FILE_FIRST_CHUNK 4096

/* Moves the len used bytes of buf (cap bytes) into a new buffer of newcap bytes and wipes the
 * old one, which may hold part of a secret. Returns the new buffer. */
static uint8_t *file_grow(uint8_t *buf, size_t len, size_t cap, size_t newcap)
{
	uint8_t *p = xmalloc(newcap);

	memcpy(p, buf, len);
	freezero(buf, cap);
	return p;
}

/* Reads fd to its end into *buf (*cap bytes, *len used; grown as needed, never beyond max + 1
 * bytes). Returns 0 at end of file with room for a NUL left, -EFBIG once more than max bytes
 * were read, or -errno from read(). */
static int file_read_fd(int fd, size_t max, uint8_t **buf, size_t *len, size_t *cap)
{
	for (;;) {
		if (*len == *cap) {
			if (*cap > max) {
				return -EFBIG;
			}
			size_t newcap = *cap > (max + 1) / 2 ? max + 1 : *cap * 2;
			*buf = file_grow(*buf, *len, *cap, newcap);
			*cap = newcap;
		}
		ssize_t n = read(fd, *buf + *len, *cap - *len);
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n == -1) {
			return -errno;
		}
		if (n == 0) {
			return 0; /* *len < *cap here: the last read had room */
		}
		*len += (size_t)n;
	}
}

int file_read_small(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	size_t used = 0, cap = FILE_FIRST_CHUNK;
	uint8_t *buf = NULL;
	int ret, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		return -errno;
	}
	/* A regular file's size is a good first guess; it may still change while we read. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		cap = (size_t)st.st_size;
	}
	cap = (cap < max ? cap : max) + 1;
	buf = xmalloc(cap);
	ret = file_read_fd(fd, max, &buf, &used, &cap);
	close(fd);
	if (ret == 0) {
		buf[used] = '\0';
		*out = buf;
		*len = used;
		buf = NULL; /* the caller's now */
	}
	freezero(buf, cap);
	return ret;
}

void file_free_secret(uint8_t *buf, size_t len)
{
	freezero(buf, len + 1);
}

static bool owner_trusted(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* The real file's directory: its mode and owner. */
static int check_dir(const char *real, struct diag *d)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", real);
	const char *parent = dirname(dir);
	if (stat(parent, &st) == -1) {
		diag_error(d, "%s: cannot check its directory %s: %s", real, parent,
			   strerror(errno));
		return -1;
	}
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		diag_error(d,
			   "%s: its directory %s is writable by others (mode %04o); run: "
			   "chmod go-w %s",
			   real, parent, (unsigned)(st.st_mode & 07777), parent);
		return -1;
	}
	if (!owner_trusted(&st)) {
		diag_error(d, "%s: its directory %s is owned by uid %u, not root or uid %u", real,
			   parent, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

int file_check_mode(const char *path, struct diag *d)
{
	char real[PATH_MAX];
	struct stat st;

	if (realpath(path, real) == NULL || stat(real, &st) == -1) {
		diag_error(d, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 022) {
		diag_error(d, "%s: others may change it (mode %04o); run: chmod go-w %s", path,
			   (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (!owner_trusted(&st)) {
		diag_error(d, "%s: owned by uid %u, not root or uid %u; run: chown %u %s", path,
			   (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path);
		return -1;
	}
	return check_dir(real, d);
}
