/* Containment (sandbox.h): privileges, capabilities, core dumps and Landlock. The seccomp
 * allowlist is in sandbox_syscalls.c. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Rights of later Landlock ABIs than Debian 12's kernel headers know (values fixed by the
 * kernel's ABI: include/uapi/linux/landlock.h). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

/* OpenSSL's secure heap: room for a few host keys' private parts. */
#define SANDBOX_SECURE_HEAP   (64 * 1024)
#define SANDBOX_SECURE_MIN    32
#define SANDBOX_CAP_MAX_PROBE 64

bool sandbox_secure_heap(void)
{
	return CRYPTO_secure_malloc_init(SANDBOX_SECURE_HEAP, SANDBOX_SECURE_MIN) == 1;
}

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

static int switch_user(const char *user, char *err, size_t errlen)
{
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "--user: no such user '%s'", user);
		return -1;
	}
	if (pw->pw_uid == geteuid() && pw->pw_gid == getegid() && geteuid() != 0)
		return 0; /* already that user: nothing to drop */
	if (setgroups(0, NULL) == -1)
		return fail(err, errlen, "cannot clear supplementary groups");
	if (setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
		return fail(err, errlen, "cannot switch user");
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "could switch back to root after dropping to '%s'", user);
		return -1;
	}
	return 0;
}

/* Empties every capability set. The bounding set needs CAP_SETPCAP, so it goes first, while
 * root still has it; an unprivileged process has nothing there worth dropping (and can't). */
static int drop_capabilities(char *err, size_t errlen)
{
	for (int cap = 0; cap < SANDBOX_CAP_MAX_PROBE; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 && errno != EPERM)
			return fail(err, errlen, "cannot drop the capability bounding set");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 && errno != EINVAL)
		return fail(err, errlen, "cannot clear ambient capabilities");
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) == -1)
		return fail(err, errlen, "cannot drop capabilities");
	return 0;
}

int sandbox_drop_privileges(const char *user, char *err, size_t errlen)
{
	if (user == NULL && geteuid() == 0) {
		snprintf(err, errlen,
			 "refusing to run as root: give --user NAME (an unprivileged account, e.g. "
			 "--user nobody), or --user root to run as root anyway");
		return -1;
	}
	if (user != NULL && switch_user(user, err, errlen) != 0)
		return -1;
	if (drop_capabilities(err, errlen) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return fail(err, errlen, "cannot set no_new_privs");
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_CORE, &none) == -1 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return fail(err, errlen, "cannot disable core dumps");
	return 0;
}

/* Every file-system right the kernel's Landlock ABI knows, so all of them are handled (and
 * denied unless a rule grants them). */
static uint64_t landlock_all_rights(int abi)
{
	uint64_t fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		      LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
		      LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		      LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		      LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

static void landlock_allow(int ruleset, const char *path, uint64_t rights)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd == -1)
		return; /* not there: nothing to allow */
	struct landlock_path_beneath_attr rule = {.allowed_access = rights, .parent_fd = fd};
	syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(fd);
}

/* What getaddrinfo reads on each look-up (resolv.conf through its symlink, if one). */
static const char *const resolver_files[] = {
	"/etc/hosts",	  "/etc/resolv.conf", "/etc/nsswitch.conf",
	"/etc/host.conf", "/etc/gai.conf",    "/etc/services",
};

int sandbox_restrict_files(const char *const *dirs, size_t n)
{
	int abi =
		(int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi <= 0)
		return 0;
	struct landlock_ruleset_attr attr = {.handled_access_fs = landlock_all_rights(abi)};
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs == -1)
		return 0;
	for (size_t i = 0; i < n; i++)
		landlock_allow(rs, dirs[i],
			       LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
	for (size_t i = 0; i < sizeof(resolver_files) / sizeof(resolver_files[0]); i++)
		landlock_allow(rs, resolver_files[i], LANDLOCK_ACCESS_FS_READ_FILE);
	int ret = (int)syscall(SYS_landlock_restrict_self, rs, 0);
	close(rs);
	return ret == 0 ? abi : 0;
}
