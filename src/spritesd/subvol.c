/* subvol.c: btrfs subvolumes and snapshots through their ioctls, so that
 * spritesd needs no btrfs-progs at run time.
 *
 * A sprite's files (STATEDIR/sprites/NAME/fs) are one subvolume when
 * STATEDIR/sprites is on btrfs, and a checkpoint is a read-only snapshot of
 * it: both cost a few metadata blocks, whatever the sprite holds.  A
 * subvolume's root directory is the only directory with inode number 256
 * (BTRFS_FIRST_FREE_OBJECTID) in it, which is how we tell one from a plain
 * directory without privileges. */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define SUBVOL_ROOT_INO 256 /* BTRFS_FIRST_FREE_OBJECTID: every subvolume's top directory */

int subvol_fs_is_btrfs(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == BTRFS_SUPER_MAGIC;
}

int subvol_is(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == SUBVOL_ROOT_INO &&
	       subvol_fs_is_btrfs(path);
}

/* Split path into its parent directory (opened) and last component.  The
 * ioctls name the new or doomed subvolume by name inside its parent. */
static int open_parent(const char *path, char *name, size_t namelen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!*base || strlen(base) >= namelen || strlen(base) > BTRFS_PATH_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	snprintf(name, namelen, "%s", base);
	char *dir = slash ? (slash == path ? xstrdup("/") : strndup(path, (size_t)(slash - path)))
	                  : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

int subvol_create(const char *path)
{
	struct btrfs_ioctl_vol_args args;
	memset(&args, 0, sizeof args);
	int dfd = open_parent(path, args.name, sizeof args.name);
	if (dfd < 0)
		return -1;
	int r = ioctl(dfd, BTRFS_IOC_SUBVOL_CREATE, &args);
	int e = errno;
	close(dfd);
	errno = e;
	return r < 0 ? -1 : 0;
}

int subvol_snapshot(const char *src, const char *dst, int readonly)
{
	struct btrfs_ioctl_vol_args_v2 args;
	memset(&args, 0, sizeof args);
	int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -1;
	int dfd = open_parent(dst, args.name, sizeof args.name);
	if (dfd < 0) {
		int e = errno;
		close(sfd);
		errno = e;
		return -1;
	}
	args.fd = sfd;
	args.flags = readonly ? BTRFS_SUBVOL_RDONLY : 0;
	/* btrfs flushes the source's dirty pages into the snapshot first, so it
	 * holds everything written before this call (no sync needed). */
	int r = ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &args);
	int e = errno;
	close(dfd);
	close(sfd);
	errno = e;
	return r < 0 ? -1 : 0;
}

/* Make a read-only subvolume writable, so that an unprivileged spritesd can
 * empty it and rmdir it (the ioctl to destroy one needs CAP_SYS_ADMIN or the
 * user_subvol_rm_allowed mount option; rmdir of an empty one does not). */
static void clear_readonly(int pfd, const char *name)
{
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	uint64_t flags = 0;
	if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) == 0 && (flags & BTRFS_SUBVOL_RDONLY)) {
		flags &= ~(uint64_t)BTRFS_SUBVOL_RDONLY;
		ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags);
	}
	close(fd);
}

static int destroy_at(int pfd, const char *name)
{
	struct btrfs_ioctl_vol_args args;
	memset(&args, 0, sizeof args);
	snprintf(args.name, sizeof args.name, "%s", name);
	return ioctl(pfd, BTRFS_IOC_SNAP_DESTROY, &args);
}

/* Destroy the subvolumes at or under pfd/name, each whole (one ioctl,
 * however many files), without descending into the ones that go.  A
 * subvolume holding others cannot go before them (ENOTEMPTY): those are
 * found by walking it, then it is tried again (pfd: its parent).  Plain files and
 * directories, and subvolumes we may not destroy (then left writable), are
 * left for the caller's ordinary removal. */
static void purge_at(int pfd, const char *name, int depth)
{
	struct stat st;
	if (depth > 64 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return;
	int is_subvol = st.st_ino == SUBVOL_ROOT_INO;
	int retry = 0;
	if (is_subvol) {
		if (destroy_at(pfd, name) == 0)
			return;
		if (errno == ENOTEMPTY)
			retry = 1;
		else
			clear_readonly(pfd, name);
	}
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) && strcmp(de->d_name, ".") &&
		    strcmp(de->d_name, ".."))
			purge_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	if (retry)
		destroy_at(pfd, name);
}

void subvol_purge(const char *path)
{
	if (!subvol_fs_is_btrfs(path))
		return;
	char name[BTRFS_PATH_NAME_MAX + 1];
	int dfd = open_parent(path, name, sizeof name);
	if (dfd < 0)
		return;
	purge_at(dfd, name, 0);
	close(dfd);
}

/* Quota groups count each subvolume's referenced bytes (snapshots share
 * theirs), so a sprite's limit is on what its files take as it sees them.
 * Enabling them again is harmless. */
int subvol_quota_enable(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct btrfs_ioctl_quota_ctl_args args = { .cmd = BTRFS_QUOTA_CTL_ENABLE };
	int r = ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args);
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

int subvol_limit(const char *path, long long bytes)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* qgroupid 0: the subvolume fd is in.  An unlimited one gets the
	 * largest limit, which also lifts an earlier one. */
	struct btrfs_ioctl_qgroup_limit_args args = {
		.qgroupid = 0,
		.lim = { .flags = BTRFS_QGROUP_LIMIT_MAX_RFER,
		         .max_rfer = bytes > 0 ? (__u64)bytes : (__u64)-1 },
	};
	int r = ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args);
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}
