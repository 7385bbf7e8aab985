/* userns.c: each sprite's user namespace, so that no sprite code ever runs
 * as a host user that matters.
 *
 * A root spritesd gives each sprite 65536 host uids and gids of its own,
 * picked at random in 0x10000000..0x6fffffff and distinct from every other
 * sprite on this host (idreg.c); the sprite's root is the first of them.  An unprivileged
 * spritesd can only map its own uid, which then is the sprite's root.  The
 * sprite's files on the host belong to its ids; a sprite made before it had
 * a range (its files owned by host root) has them shifted once.
 *
 * The namespace is made by a short-lived child that unshares and waits
 * while spritesd writes its maps (only a process outside it may map a
 * range); the sandbox's launcher and every exec then join it with setns
 * and become its root. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#define SPRITE_IDS 65536
/* Host ids handed out to sprites: 0x10000000..0x6fffffff, as systemd-nspawn
 * picks its ranges, far above ordinary users and /etc/subuid's usual ranges. */
#define SPRITE_SLOT_FIRST (0x10000000u / SPRITE_IDS)
#define SPRITE_SLOT_COUNT ((0x70000000u - 0x10000000u) / SPRITE_IDS)

static char *ids_file(const struct sprite *sp)
{
	return xasprintf("%s/userns", sp->dir);
}

static int base_taken(const struct sprite *sp, uid_t base)
{
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&sp->srv->sprites)) {
		struct sprite *other = lws_container_of(p, struct sprite, list);
		if (other != sp && other->ids.count > 1 && other->ids.uid == base)
			return 1;
	} lws_end_foreach_dll(p);
	return 0;
}

int userns_ids(struct sprite *sp, char *err, size_t errlen)
{
	if (sp->ids.count)
		return 0;
	char *path = ids_file(sp);
	char *s = read_file(path, 256, NULL);
	unsigned long long uid = 0, gid = 0, count = 0;
	int have = s && sscanf(s, "%llu %llu %llu", &uid, &gid, &count) == 3 && count;
	free(s);
	int root = geteuid() == 0;
	/* Kept when it still fits how we run: a range as root (and no other
	 * sprite's on this host), our own ids otherwise. */
	int keep = have && (root ? count == SPRITE_IDS && !base_taken(sp, (uid_t)uid)
	                         : count == 1 && uid == getuid() && gid == getgid());
	int lfd = root ? idreg_lock(sp->srv->ids_dir) : -1;
	if (root && lfd < 0) {
		snprintf(err, errlen, "cannot lock %s: %s", sp->srv->ids_dir, strerror(errno));
		free(path);
		return -1;
	}
	if (keep && root) {
		int claimed = idreg_claim(sp->srv->ids_dir, (uid_t)uid, sp->dir);
		if (claimed < 0) {
			idreg_unlock(lfd);
			snprintf(err, errlen, "cannot record the ids of sprite \"%s\" in %s: %s", sp->name,
			         sp->srv->ids_dir, strerror(errno));
			free(path);
			return -1;
		}
		keep = claimed; /* else another spritesd's sprite has them: pick anew */
	}
	if (keep) {
		idreg_unlock(lfd);
		sp->ids.uid = (uid_t)uid, sp->ids.gid = (gid_t)gid, sp->ids.count = (unsigned)count;
		free(path);
		return 0;
	}
	if (root) {
		/* From a random slot on, the first that no sprite on this host has. */
		uint32_t r;
		if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
			r = (uint32_t)now_ms() * 2654435761u;
		int claimed = 0;
		for (uint32_t i = 0; i < SPRITE_SLOT_COUNT && claimed == 0; i++) {
			uid_t base = (uid_t)((SPRITE_SLOT_FIRST + (r + i) % SPRITE_SLOT_COUNT) * SPRITE_IDS);
			if (!base_taken(sp, base) && (claimed = idreg_claim(sp->srv->ids_dir, base, sp->dir)) == 1)
				sp->ids.uid = base;
		}
		idreg_unlock(lfd);
		if (claimed != 1) {
			if (claimed < 0)
				snprintf(err, errlen, "cannot record the ids of sprite \"%s\" in %s: %s", sp->name,
				         sp->srv->ids_dir, strerror(errno));
			else
				snprintf(err, errlen, "no range of host ids is left for sprite \"%s\" (%s lists "
				         "who has them: destroy sprites)", sp->name, sp->srv->ids_dir);
			free(path);
			return -1;
		}
		sp->ids.gid = (gid_t)sp->ids.uid;
		sp->ids.count = SPRITE_IDS;
	} else {
		sp->ids.uid = getuid(), sp->ids.gid = getgid(), sp->ids.count = 1;
	}
	char line[96];
	snprintf(line, sizeof line, "%u %u %u\n", (unsigned)sp->ids.uid, (unsigned)sp->ids.gid, sp->ids.count);
	int r = write_file_atomic(path, line, 0644);
	if (r < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	free(path);
	if (r < 0)
		sp->ids.count = 0;
	return r;
}

static int write_proc(pid_t pid, const char *file, const char *val)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	return write_to(path, val);
}

int userns_create(const struct sprite *sp, char *err, size_t errlen)
{
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(down, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(up[0]), close(up[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		/* The namespace belongs to its maker, and the kernel charges
		 * what is done in it (inotify instances, queued signals,
		 * message queues) to its maker's per-user limits: the sprite's
		 * root makes it, not host root.  We keep every right over it. */
		int e = 0;
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(sp->ids.gid, sp->ids.gid, sp->ids.gid) < 0 ||
		                       setresuid(sp->ids.uid, sp->ids.uid, sp->ids.uid) < 0))
			e = errno;
		if (!e && unshare(CLONE_NEWUSER) < 0)
			e = errno;
		(void)!write(up[1], &e, sizeof e);
		(void)!read(down[0], &e, 1); /* until spritesd has what it needs */
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	int fd = -1, e = 0;
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (read(up[0], &e, sizeof e) != (ssize_t)sizeof e) {
		snprintf(err, errlen, "the user namespace helper died");
		goto out;
	}
	if (e) {
		snprintf(err, errlen, "cannot create a user namespace: %s (user namespaces are disabled: "
		         "check user.max_user_namespaces and kernel.unprivileged_userns_clone)", strerror(e));
		goto out;
	}
	char uids[64], gids[64];
	snprintf(uids, sizeof uids, "0 %u %u\n", (unsigned)sp->ids.uid, sp->ids.count);
	snprintf(gids, sizeof gids, "0 %u %u\n", (unsigned)sp->ids.gid, sp->ids.count);
	/* Without CAP_SETGID outside, a gid map needs setgroups denied first. */
	if ((geteuid() != 0 && write_proc(pid, "setgroups", "deny") < 0) ||
	    write_proc(pid, "uid_map", uids) < 0 || write_proc(pid, "gid_map", gids) < 0) {
		snprintf(err, errlen, "cannot map the ids of sprite \"%s\": %s", sp->name, strerror(errno));
		goto out;
	}
	char ns[64];
	snprintf(ns, sizeof ns, "/proc/%d/ns/user", (int)pid);
	fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s: %s", ns, strerror(errno));
out:
	close(up[0]);
	close(down[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}

int userns_enter(int fd, int ranged)
{
	if (syscall(SYS_setns, fd, CLONE_NEWUSER) < 0 || syscall(SYS_setresgid, 0, 0, 0) < 0)
		return -1;
	/* Denied when an unprivileged spritesd made the namespace; then no
	 * supplementary group was ours to keep anyway. */
	if (syscall(SYS_setgroups, 0, NULL) < 0 && (ranged || errno != EPERM))
		return -1;
	return syscall(SYS_setresuid, 0, 0, 0) < 0 ? -1 : 0;
}

/* ---- moving a sprite's files into its ids ---- */

struct shift {
	unsigned long from_uid, from_gid, from_count; /* the range the files are in */
	unsigned long to_uid, to_gid, to_count;       /* the sprite's */
};

static unsigned long map_id(unsigned long id, unsigned long from, unsigned long to, const struct shift *s)
{
	if (id >= from && id - from < s->from_count && id - from < s->to_count)
		return to + (id - from);
	return to + (s->to_count > 65534 ? 65534 : 0); /* unmapped: the sprite's nobody */
}

/* Give dirfd/name (not followed) and everything under it to the sprite's ids. */
static int shift_at(int dirfd, const char *name, const struct shift *s, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	uid_t u = (uid_t)map_id(st.st_uid, s->from_uid, s->to_uid, s);
	gid_t g = (gid_t)map_id(st.st_gid, s->from_gid, s->to_gid, s);
	if ((u != st.st_uid || g != st.st_gid) && fchownat(dirfd, name, u, g, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	/* chown clears set-id bits: put them back as they were. */
	if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)))
		fchmodat(dirfd, name, st.st_mode & 07777, 0);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth > 4096) {
		errno = ELOOP;
		return -1;
	}
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = shift_at(fd, de->d_name, s, depth + 1);
	closedir(d);
	return rc;
}

int userns_own_files(const struct sprite *sp, char *err, size_t errlen)
{
	char *fs = xasprintf("%s/fs", sp->dir);
	struct stat st;
	int rc = 0;
	if (stat(fs, &st) == 0 && (st.st_uid != sp->ids.uid || st.st_gid != sp->ids.gid)) {
		/* Its files are another range's: host root's, for a sprite made
		 * before sprites had ranges; another sprite range's; or a single
		 * user's, made by an unprivileged spritesd.  fs/'s owner is that
		 * range's root. */
		int range = st.st_uid == 0 || (st.st_uid % SPRITE_IDS == 0 &&
		                               st.st_uid / SPRITE_IDS >= SPRITE_SLOT_FIRST);
		struct shift s = { st.st_uid, st.st_gid, range ? SPRITE_IDS : 1,
		                   sp->ids.uid, sp->ids.gid, sp->ids.count };
		rc = shift_at(AT_FDCWD, fs, &s, 0);
		if (rc < 0)
			snprintf(err, errlen, "cannot give the files of sprite \"%s\" to its user ids: %s",
			         sp->name, strerror(errno));
	}
	free(fs);
	return rc;
}
