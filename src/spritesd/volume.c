/* volume.c: put STATEDIR/sprites on btrfs, so that checkpoints are
 * snapshots (subvol.c) whose cost does not grow with a sprite's size.
 *
 * At start: if STATEDIR/sprites is already on btrfs we use it as it is (no
 * privilege needed).  Else, when we are root and it holds no sprite yet, we
 * mount STATEDIR/volume.img (a sparse file, made and formatted with
 * mkfs.btrfs the first time) there through a loop device.  Otherwise sprites
 * live in plain directories as before, and srv->no_checkpoints says why
 * checkpoints cannot be made and what to do.
 *
 * The loop device is set up here (LOOP_CONFIGURE, falling back to
 * LOOP_SET_FD) rather than by `mount -o loop`, to set LO_FLAGS_AUTOCLEAR
 * ourselves and report each failure precisely; autoclear frees the device as
 * soon as the filesystem is unmounted, so `umount STATEDIR/sprites` is all
 * it takes to remove the volume.  The mount outlives spritesd on purpose:
 * sandboxes do too, and the next spritesd finds it in place. */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOOP_ATTEMPTS 16 /* a free loop device can be taken by another process first */

long long volume_parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	int shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end || n > (LLONG_MAX >> shift))
		return -1;
	return n << shift;
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT;
	struct dirent *de;
	int empty = 1;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* Run mkfs.btrfs on the image; its complaint, if any, goes into err. */
static int run_mkfs(const char *img, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(p[1], 2);
		/* -f: the file is ours and empty; -q: no banner. */
		execlp("mkfs.btrfs", "mkfs.btrfs", "-q", "-f", img, (char *)NULL);
		dprintf(2, "%s", errno == ENOENT ? "mkfs.btrfs not found (install btrfs-progs)"
		                                 : strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	char msg[512];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof msg - 1 && (r = read(p[0], msg + len, sizeof msg - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		len += (size_t)r;
	}
	msg[len] = '\0';
	close(p[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* mkfs.btrfs's notes about changed defaults are not the reason it failed:
	 * its last line is. */
	char *last = rtrim(msg), *nl = strrchr(last, '\n');
	snprintf(err, errlen, "mkfs.btrfs failed: %s", nl ? nl + 1 : *last ? last : "no message");
	return -1;
}

/* Attach img to a free loop device that frees itself once unmounted. */
static int loop_attach(const char *img, char *dev, size_t devlen, char *err, size_t errlen)
{
	int ifd = open(img, O_RDWR | O_CLOEXEC);
	if (ifd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", img, strerror(errno));
		return -1;
	}
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		snprintf(err, errlen, "cannot open /dev/loop-control: %s (is the loop module loaded?)",
		         strerror(errno));
		close(ifd);
		return -1;
	}
	int lfd = -1;
	for (int attempt = 0; attempt < LOOP_ATTEMPTS && lfd < 0; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			snprintf(err, errlen, "no free loop device: %s", strerror(errno));
			break;
		}
		snprintf(dev, devlen, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			snprintf(err, errlen, "cannot open %s: %s", dev, strerror(errno));
			break;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof cfg);
		cfg.fd = (unsigned)ifd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", img);
		int r = ioctl(lfd, LOOP_CONFIGURE, &cfg);
		if (r < 0 && (errno == EINVAL || errno == ENOTTY)) {
			/* Before Linux 5.8: the same in two steps. */
			r = ioctl(lfd, LOOP_SET_FD, ifd);
			if (r == 0 && ioctl(lfd, LOOP_SET_STATUS64, &cfg.info) < 0) {
				int e = errno;
				ioctl(lfd, LOOP_CLR_FD, 0);
				errno = e;
				r = -1;
			}
		}
		if (r < 0) {
			int busy = errno == EBUSY;
			snprintf(err, errlen, "cannot set up %s: %s", dev, strerror(errno));
			close(lfd);
			lfd = -1;
			if (!busy)
				break;
		}
	}
	close(ctl);
	close(ifd);
	return lfd;
}

/* Make (the first time) and mount STATEDIR/volume.img on sprites. */
static int mount_volume(struct server *srv, const char *sprites, long long size, char *err,
                        size_t errlen)
{
	char *img = xasprintf("%s/volume.img", srv->statedir);
	int fresh = 0;
	int fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		fresh = 1;
		int r = ftruncate(fd, (off_t)size);
		int e = errno;
		close(fd);
		if (r < 0 || run_mkfs(img, err, errlen) < 0) {
			if (r < 0)
				snprintf(err, errlen, "cannot size %s: %s", img, strerror(e));
			unlink(img);
			free(img);
			return -1;
		}
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", img, strerror(errno));
		free(img);
		return -1;
	}
	char dev[64];
	int lfd = loop_attach(img, dev, sizeof dev, err, errlen);
	if (lfd < 0) {
		if (fresh)
			unlink(img);
		free(img);
		return -1;
	}
	/* nosuid, nodev: nothing a sprite leaves in its files is a way out. */
	int r = mount(dev, sprites, "btrfs", MS_NOSUID | MS_NODEV, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot mount %s (%s) on %s: %s%s", img, dev, sprites, strerror(errno),
		         errno == ENODEV ? " (this kernel has no btrfs: modprobe btrfs)" : "");
		if (fresh)
			unlink(img);
	}
	/* The mount holds the device now; with autoclear, our closing it
	 * (or a failed mount) leaves nothing behind. */
	close(lfd);
	if (r == 0) {
		chmod(sprites, 0700);
		fprintf(stderr, "spritesd: %s %s (btrfs, %lld GiB sparse) on %s for checkpoints\n",
		        fresh ? "made and mounted" : "mounted", img, size >> 30, sprites);
	}
	free(img);
	return r;
}

void volume_setup(struct server *srv, long long size)
{
	char *sprites = xasprintf("%s/sprites", srv->statedir);
	char err[600];
	if (subvol_fs_is_btrfs(sprites)) {
		srv->sprites_btrfs = 1;
	} else if (size == 0) {
		srv->no_checkpoints = xasprintf(
			"checkpoints need %s on btrfs, and spritesd was started with --volume-size 0: "
			"restart it as root without that option (with no sprites yet), or mount a btrfs "
			"filesystem there", sprites);
	} else if (geteuid() != 0) {
		srv->no_checkpoints = xasprintf(
			"checkpoints need %s on btrfs, or spritesd run as root to make one: mount a btrfs "
			"filesystem there (owned by you), or start spritesd as root while it holds no sprites",
			sprites);
	} else if (!dir_is_empty(sprites)) {
		srv->no_checkpoints = xasprintf(
			"checkpoints need %s on btrfs, but it already holds sprites in plain directories "
			"(kept as they are, not moved): destroy them, then restart spritesd to make the btrfs "
			"volume", sprites);
	} else if (mount_volume(srv, sprites, size, err, sizeof err) == 0) {
		srv->sprites_btrfs = subvol_fs_is_btrfs(sprites);
	} else {
		srv->no_checkpoints = xasprintf("checkpoints need %s on btrfs, and spritesd could not make "
		                                "one: %s", sprites, err);
	}
	if (srv->no_checkpoints)
		fprintf(stderr, "spritesd: checkpoints are unavailable: %s\n", srv->no_checkpoints);
	free(sprites);
}
