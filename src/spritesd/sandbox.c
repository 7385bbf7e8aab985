/* sandbox.c: a sprite's bubblewrap sandbox, and spawning processes into it.
 *
 * A sprite is one machine: a long-lived bwrap process tree with its own
 * user, mount, PID, IPC, UTS, network and cgroup namespaces, the host's
 * system directories mounted read-only and the sprite's own persistent home,
 * /workspace and /tmp.  Its pid 1 is spritesd itself, as init.c (which says
 * why), and it holds the sandbox up.
 * Every exec joins those namespaces (setns) and starts its command there, so
 * processes started by one exec are seen by the next.  The sandbox does not
 * depend on spritesd: a restarted spritesd adopts it again (sandbox.json). */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
#include <fnmatch.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const ns_names[NS_COUNT] = { "user", "ipc", "uts", "net", "pid", "mnt", "cgroup" };

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Field 22 of /proc/PID/stat: the start time, to tell a pid from its reuse. */
static unsigned long long proc_start_time(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	char *s = read_file(path, 4096, NULL);
	if (!s)
		return 0;
	unsigned long long t = 0;
	char *p = strrchr(s, ')');
	for (int field = 2; p && *p && field < 22; p++)
		if (*p == ' ' && ++field == 22)
			t = strtoull(p + 1, NULL, 10);
	free(s);
	return t;
}

/* A child about to exec: undo what spritesd changed in its own process. */
static void reset_child_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static char *sandbox_file(struct sprite *sp)
{
	return xasprintf("%s/sandbox.json", sp->dir);
}

void sandbox_release(struct sandbox *sb)
{
	proxy_free(sb->proxy);
	sb->proxy = NULL;
	for (size_t i = 0; i < NS_COUNT; i++) {
		if (sb->ns_fds[i] >= 0)
			close(sb->ns_fds[i]);
		sb->ns_fds[i] = -1;
	}
	if (sb->root_fd >= 0)
		close(sb->root_fd);
	sb->root_fd = -1;
	if (sb->pidfd_wsi) {
		lws_set_opaque_user_data(sb->pidfd_wsi, NULL);
		lws_set_timeout(sb->pidfd_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
	sb->pidfd_wsi = NULL;
	sb->init_pid = 0;
	sb->start_time = 0;
}

/* Open the namespaces and root of a running sandbox, and watch its pid 1. */
static int sandbox_attach(struct sprite *sp, pid_t pid, char *err, size_t errlen)
{
	struct sandbox *sb = &sp->sb;
	for (size_t i = 0; i < NS_COUNT; i++) {
		char theirs[64], ours[64];
		snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", (int)pid, ns_names[i]);
		snprintf(ours, sizeof ours, "/proc/self/ns/%s", ns_names[i]);
		struct stat a, b;
		if (stat(theirs, &a) < 0) {
			snprintf(err, errlen, "sandbox of \"%s\" vanished: %s", sp->name, strerror(errno));
			sandbox_release(sb);
			return -1;
		}
		if (stat(ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue; /* shared with us: nothing to join */
		sb->ns_fds[i] = open(theirs, O_RDONLY | O_CLOEXEC);
		if (sb->ns_fds[i] < 0) {
			snprintf(err, errlen, "cannot open %s: %s", theirs, strerror(errno));
			sandbox_release(sb);
			return -1;
		}
	}
	char root[64];
	snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
	sb->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int pfd = pidfd_open_(pid);
	if (sb->root_fd < 0 || pfd < 0) {
		snprintf(err, errlen, "cannot watch the sandbox of \"%s\": %s", sp->name, strerror(errno));
		if (pfd >= 0)
			close(pfd);
		sandbox_release(sb);
		return -1;
	}
	lws_sock_file_fd_type fdt = { .filefd = pfd };
	sb->pidfd_wsi = lws_adopt_descriptor_vhost(sp->srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
	                                           "sprite-sandbox", NULL);
	if (!sb->pidfd_wsi) {
		close(pfd);
		snprintf(err, errlen, "cannot watch the sandbox of \"%s\"", sp->name);
		sandbox_release(sb);
		return -1;
	}
	lws_set_opaque_user_data(sb->pidfd_wsi, sp);
	sb->init_pid = pid;
	sp->last_active_ms = now_ms();
	sb->start_time = proc_start_time(pid);
	return 0;
}

void sandbox_adopt(struct sprite *sp)
{
	char *path = sandbox_file(sp);
	json_t *o = json_load_file(path, 0, NULL);
	pid_t pid = (pid_t)json_integer_value(json_object_get(o, "init_pid"));
	unsigned long long start = (unsigned long long)json_integer_value(json_object_get(o, "start_time"));
	json_decref(o);
	char err[256];
	if (pid > 0 && start && proc_start_time(pid) == start && sandbox_attach(sp, pid, err, sizeof err) == 0) {
		free(path);
		/* Its execs must join its cgroup too: without it, stop it (its
		 * next command starts it confined). */
		if (userns_ids(sp, err, sizeof err) < 0 || cgroup_sprite_open(sp, err, sizeof err) < 0) {
			fprintf(stderr, "spritesd: sprite \"%s\": %s\n", sp->name, err);
			sandbox_stop(sp);
			return;
		}
		/* Its proxy's listening socket died with the last spritesd. */
		if (proxy_start(sp, err, sizeof err) < 0) {
			fprintf(stderr, "spritesd: sprite \"%s\": %s\n", sp->name, err);
			/* Fail closed: one that shares our network is stopped (its
			 * next command starts it confined); one that does not is
			 * left without a way out. */
			if (sp->sb.ns_fds[NS_NET] < 0) /* shared with us */
				sandbox_stop(sp);
		}
		return;
	}
	unlink(path);
	free(path);
}

/* Read from fd until EOF, a full buffer, the stop string, or the deadline;
 * buf is NUL-terminated. */
static void read_until(int fd, char *buf, size_t size, long long deadline, const char *stop)
{
	size_t len = 0;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t r = read(fd, buf + len, size - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (len == size - 1 || (stop && strstr(buf, stop)))
			break;
	}
	buf[len] = '\0';
}

/* ---- confinement ---- */

void sandbox_setup(struct server *srv)
{
	char err[512] = "";
	srv->filter = xcalloc(1, sizeof *srv->filter);
	if (seccomp_filter_build(srv->filter, err, sizeof err) < 0)
		goto refuse;
	/* User namespaces: try to make one, as every sprite start will. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno & 0x7f);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(err, sizeof err, "this host cannot make user namespaces (%s): enable them "
		         "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)",
		         pid < 0 ? strerror(errno) : WIFEXITED(st) ? strerror(WEXITSTATUS(st)) : "the probe died");
		goto refuse;
	}
	if (cgroup_setup(srv, err, sizeof err) < 0)
		goto refuse;
	/* Disks: a quota per sprite needs its files on btrfs (volume.c). */
	char *sprites = xasprintf("%s/sprites", srv->statedir);
	if (!srv->sprites_btrfs)
		srv->no_disk_limits = xasprintf("%s is not on btrfs (%s)", sprites,
		                                srv->no_checkpoints ? srv->no_checkpoints : "");
	else if (subvol_quota_enable(sprites) < 0)
		srv->no_disk_limits = xasprintf("cannot enable btrfs quotas on %s: %s", sprites, strerror(errno));
	free(sprites);
	if (srv->no_disk_limits && srv->limits.disk)
		fprintf(stderr, "spritesd: sprites' disk use is not limited: %s\n", srv->no_disk_limits);
	return;
refuse:
	srv->no_sandboxes = xstrdup(err);
	fprintf(stderr, "spritesd: sprites cannot start here: %s\n", err);
}

/* The bwrap command line, passed on a file descriptor (--args) so that a
 * sprite reading its /proc/1/cmdline learns no host path; the descriptors
 * it names are dup2'ed to fixed numbers in the launcher. */
enum { FD_INFO = 3, FD_READY = SPRITE_INIT_READY_FD, FD_ARGS = 5, FD_SECCOMP = 6, FD_EXTRA = 7, EXTRA_MAX = 16 };

enum { STAGE_MAX = 5 };
#define STAGE_DIR "/run"

struct launch {
	char *args;               /* NUL-separated */
	size_t len, cap;
	int extra[EXTRA_MAX];     /* descriptors, to become FD_EXTRA + i */
	int n_extra;
	char *stage[STAGE_MAX];   /* the sprite's directories, staged for bwrap */
	int n_stage;
};

static void arg(struct launch *l, const char *a)
{
	size_t n = strlen(a) + 1;
	if (l->len + n > l->cap) {
		l->cap = (l->len + n) * 2;
		l->args = xrealloc(l->args, l->cap);
	}
	memcpy(l->args + l->len, a, n);
	l->len += n;
}

static void args(struct launch *l, const char *a, const char *b, const char *c)
{
	arg(l, a);
	if (b)
		arg(l, b);
	if (c)
		arg(l, c);
}

/* Hand bwrap a descriptor (taken) for option opt at dest. */
static void arg_fd(struct launch *l, const char *opt, int fd, const char *dest)
{
	if (fd < 0 || l->n_extra == EXTRA_MAX) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char num[16];
	snprintf(num, sizeof num, "%d", FD_EXTRA + l->n_extra);
	l->extra[l->n_extra++] = fd;
	args(l, opt, num, dest);
}

static int memfd_with(const char *name, const char *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void arg_data(struct launch *l, const char *dest, const char *data)
{
	arg_fd(l, "--ro-bind-data", memfd_with("sprite-etc", data, strlen(data)), dest);
}

/* A directory of the sprite's, bound at dest.  Its host path may lie under
 * directories only host root may enter (a 0700 state directory), and bwrap
 * resolves it as the sprite's root: so the launcher first binds it at
 * STAGE_DIR/N, in a mount namespace of its own, and bwrap takes it there. */
static void arg_stage(struct launch *l, const char *opt, char *host, const char *dest)
{
	if (l->n_stage == STAGE_MAX) {
		free(host);
		return;
	}
	char staged[64];
	snprintf(staged, sizeof staged, STAGE_DIR "/%d", l->n_stage);
	l->stage[l->n_stage++] = host;
	args(l, opt, staged, dest);
}

/* In the launcher: stage the sprite's directories (see arg_stage). */
static int stage(const struct launch *l)
{
	/* Slave: our mounts stay ours, the host's unmounts still reach us. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("sprite-stage", STAGE_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=16k") < 0)
		return -1;
	for (int i = 0; i < l->n_stage; i++) {
		char staged[64];
		snprintf(staged, sizeof staged, STAGE_DIR "/%d", i);
		struct stat st;
		if (stat(l->stage[i], &st) < 0)
			return -1;
		int made = S_ISDIR(st.st_mode) ? mkdir(staged, 0755) : mknod(staged, S_IFREG | 0644, 0);
		if (made < 0 || mount(l->stage[i], staged, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -1;
	}
	return 0;
}

/* A host system directory, read-only, or the same symlink (merged-/usr
 * systems link /bin to usr/bin). */
static void arg_system_dir(struct launch *l, const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t len = readlink(dir, target, sizeof target - 1);
		if (len <= 0)
			return;
		target[len] = '\0';
		args(l, "--symlink", target, dir);
	} else if (S_ISDIR(st.st_mode)) {
		args(l, "--ro-bind", dir, dir);
	}
}

/* What of the host's /etc a sprite sees: what programs need to run (the
 * loader, certificates, Debian's alternatives, name service and locale
 * files, interpreters' settings), and nothing that is the host's own
 * business (shadow, ssh host keys, sudoers, package-manager credentials). */
static const char *const etc_shared[] = {
	"alternatives", "ssl", "ca-certificates", "ca-certificates.conf", "ld.so.cache", "ld.so.conf",
	"ld.so.conf.d", "nsswitch.conf", "host.conf", "gai.conf", "services", "protocols", "networks",
	"localtime", "timezone", "locale.alias", "mime.types", "magic", "magic.mime", "os-release",
	"debian_version", "lsb-release", "profile", "profile.d", "bash.bashrc", "inputrc", "shells",
	"terminfo", "perl", "python3", "python3.*", "java-*", "fonts", "vim", "xdg", "mailcap",
	"ssh/ssh_config", "ssh/ssh_config.d",
};

static void arg_etc(struct launch *l, const struct sprite *sp)
{
	args(l, "--size", "1048576", "--tmpfs");
	args(l, "/etc", NULL, NULL);
	args(l, "--dir", "/etc/ssh", NULL);
	DIR *d = opendir("/etc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		for (size_t i = 0; i < sizeof etc_shared / sizeof *etc_shared; i++) {
			if (fnmatch(etc_shared[i], de->d_name, 0))
				continue;
			char *path = xasprintf("/etc/%s", de->d_name);
			args(l, "--ro-bind", path, path);
			free(path);
			break;
		}
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < sizeof etc_shared / sizeof *etc_shared; i++) {
		if (strncmp(etc_shared[i], "ssh/", 4))
			continue;
		char *path = xasprintf("/etc/%s", etc_shared[i]);
		args(l, "--ro-bind-try", path, path);
		free(path);
	}
	/* The sprite's own: its users (root's home is the sprite's home, as
	 * HOME says), its name, and no name server but loopback (names are
	 * the proxy's to resolve). */
	arg_data(l, "/etc/passwd",
	         "root:x:0:0:root:/home/sprite:/bin/bash\n"
	         "sprite:x:1000:1000:sprite:/home/sprite:/bin/bash\n"
	         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
	arg_data(l, "/etc/group", "root:x:0:\ntty:x:5:\nsprite:x:1000:\nnogroup:x:65534:\n");
	char *hosts = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	                        "127.0.1.1\t%s\n", sp->name);
	arg_data(l, "/etc/hosts", hosts);
	free(hosts);
	char *hostname = xasprintf("%s\n", sp->name);
	arg_data(l, "/etc/hostname", hostname);
	free(hostname);
	arg_data(l, "/etc/resolv.conf", "nameserver 127.0.0.1\n");
	args(l, "--remount-ro", "/etc", NULL);
}

/* /proc as container runtimes leave it: what would show or change the
 * host's kernel read-only or masked. */
static void arg_proc(struct launch *l)
{
	args(l, "--proc", "/proc", NULL);
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs",
	                                  "/proc/irq" };
	static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/key-users",
	                                      "/proc/timer_list", "/proc/sched_debug",
	                                      "/proc/latency_stats", "/proc/kallsyms" };
	static const char *const hidden[] = { "/proc/acpi", "/proc/scsi", "/proc/asound" };
	for (size_t i = 0; i < sizeof ro / sizeof *ro; i++)
		if (access(ro[i], F_OK) == 0)
			args(l, "--ro-bind", ro[i], ro[i]);
	for (size_t i = 0; i < sizeof masked / sizeof *masked; i++)
		if (access(masked[i], F_OK) == 0)
			args(l, "--ro-bind", "/dev/null", masked[i]);
	for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++)
		if (access(hidden[i], F_OK) == 0) {
			args(l, "--size", "4096", NULL);
			args(l, "--tmpfs", hidden[i], NULL);
			args(l, "--remount-ro", hidden[i], NULL);
		}
}

static void launch_free(struct launch *l)
{
	for (int i = 0; i < l->n_extra; i++)
		close(l->extra[i]);
	for (int i = 0; i < l->n_stage; i++)
		free(l->stage[i]);
	free(l->args);
}

/* The launcher (a grandchild of spritesd, so bwrap is nobody's child and
 * outlives us as an adopted sandbox does): into the sprite's cgroup and
 * user namespace as its root, then bwrap, which makes the other namespaces
 * inside it.  fds: [0] errors, [1] info, [2] ready, [3] args, [4] seccomp. */
static _Noreturn void launcher(const struct sprite *sp, int userns, const int fds[5], const struct launch *l)
{
	reset_child_signals();
	setsid();
	if (fork() != 0)
		_exit(0);
	int err = fds[0];
	if (stage(l) < 0) {
		dprintf(err, "cannot stage the sprite's directories for bwrap: %s", strerror(errno));
		_exit(1);
	}
	if (cgroup_join(sp) < 0) {
		dprintf(err, "cannot join the sprite's cgroup: %s", strerror(errno));
		_exit(1);
	}
	if (userns_enter(userns, sp->ids.count > 1) < 0) {
		dprintf(err, "cannot enter the sprite's user namespace: %s", strerror(errno));
		_exit(1);
	}
	/* No user namespace inside this one, ever (seccomp refuses it too);
	 * this is the sprite's own limit, not the host's. */
	if (write_to("/proc/sys/user/max_user_namespaces", "0") < 0) {
		dprintf(err, "cannot limit the sprite's user namespaces: %s", strerror(errno));
		_exit(1);
	}
	/* Everything to its number: first out of the way, then in place. */
	int moved[5 + EXTRA_MAX], n = 0;
	for (int i = 0; i < 5; i++)
		moved[n++] = fcntl(fds[i], F_DUPFD_CLOEXEC, FD_EXTRA + EXTRA_MAX);
	for (int i = 0; i < l->n_extra; i++)
		moved[n++] = fcntl(l->extra[i], F_DUPFD_CLOEXEC, FD_EXTRA + EXTRA_MAX);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(devnull, 0);
	dup2(devnull, 1);
	static const int place[5] = { 2, FD_INFO, FD_READY, FD_ARGS, FD_SECCOMP };
	for (int i = 0; i < n; i++)
		dup2(moved[i], i < 5 ? place[i] : FD_EXTRA + i - 5);
	syscall(SYS_close_range, FD_EXTRA + l->n_extra, ~0U, 0);
	char fdnum[16];
	snprintf(fdnum, sizeof fdnum, "%d", FD_ARGS);
	/* The command stays on the command line (bwrap reads only options
	 * from --args).  bwrap reports its pid before it has built the
	 * sandbox; init says "ready" once it runs inside the finished one. */
	char *const argv[] = { "bwrap", "--args", fdnum, "--", SPRITE_INIT, SPRITE_INIT_ARG, NULL };
	static char *const envp[] = { "PATH=" DEFAULT_PATH, "HOME=/home/sprite", NULL };
	execvpe("bwrap", argv, envp);
	dprintf(2, "cannot run bwrap: %s (install bubblewrap)", strerror(errno));
	_exit(127);
}

/* Start the sprite's bwrap sandbox and read its pid 1 from --info-fd. */
static int sandbox_start(struct sprite *sp, char *err, size_t errlen)
{
	struct server *srv = sp->srv;
	if (srv->no_sandboxes) {
		snprintf(err, errlen, "sprites cannot start here: %s", srv->no_sandboxes);
		return -1;
	}
	struct limits lim;
	sprite_limits(sp, &lim);
	char *fs = xasprintf("%s/fs", sp->dir);
	int rc = userns_ids(sp, err, errlen) < 0 || userns_own_files(sp, err, errlen) < 0 ||
	         cgroup_sprite_open(sp, err, errlen) < 0 ? -1 : 0;
	if (rc == 0 && !srv->no_disk_limits && subvol_is(fs) && subvol_limit(fs, lim.disk) < 0) {
		snprintf(err, errlen, "cannot limit the disk of sprite \"%s\": %s", sp->name, strerror(errno));
		rc = -1;
	}
	free(fs);
	/* Its network policy, shown read-only at /.sprite/policy/network.json. */
	char *policy_dir = rc < 0 ? NULL : netpolicy_publish(sp, err, errlen);
	if (!policy_dir)
		return -1;

	struct launch l = { 0 };
	args(&l, "--unshare-pid", "--unshare-ipc", "--unshare-uts");
	args(&l, "--unshare-net", "--unshare-cgroup", NULL); /* loopback only: the way out is proxy.c's */
	args(&l, "--hostname", sp->name, NULL);
	/* A root of its own size: whatever a sprite writes outside its disk. */
	args(&l, "--size", "268435456", NULL);
	args(&l, "--tmpfs", "/", NULL);
	args(&l, "--ro-bind", "/usr", "/usr");
	static const char *const sysdirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
	for (size_t i = 0; i < sizeof sysdirs / sizeof *sysdirs; i++)
		arg_system_dir(&l, sysdirs[i]);
	arg_etc(&l, sp);
	arg_proc(&l);
	char size[32];
	snprintf(size, sizeof size, "%lld", lim.memory / 2);
	args(&l, "--dev", "/dev", NULL);
	args(&l, "--size", size, NULL);
	args(&l, "--tmpfs", "/dev/shm", NULL);
	args(&l, "--remount-ro", "/dev", NULL);
	args(&l, "--size", "67108864", NULL);
	args(&l, "--tmpfs", "/run", NULL);
	args(&l, "--dir", "/var", NULL);
	args(&l, "--symlink", "../tmp", "/var/tmp");
	args(&l, "--dir", "/.sprite", NULL);
	args(&l, "--perms", "0755", "--dir");
	args(&l, "/home", NULL, NULL);
	arg_stage(&l, "--ro-bind", policy_dir, "/.sprite/policy");
	/* Its path: a bind mount takes no file of another mount namespace,
	 * as /proc/self/exe is once the launcher has its own.  An upgrade
	 * that replaced the file leaves " (deleted)": stat then fails, and
	 * the message says so. */
	char self[4096];
	ssize_t selflen = readlink("/proc/self/exe", self, sizeof self - 1);
	self[selflen > 0 ? selflen : 0] = '\0';
	arg_stage(&l, "--ro-bind", xstrdup(self), SPRITE_INIT);
	arg_stage(&l, "--bind", xasprintf("%s/fs/home", sp->dir), "/home/sprite");
	arg_stage(&l, "--bind", xasprintf("%s/fs/workspace", sp->dir), "/workspace");
	arg_stage(&l, "--bind", xasprintf("%s/fs/tmp", sp->dir), "/tmp");
	for (char **share = srv->shares; share && *share; share++)
		args(&l, "--ro-bind-try", *share, *share);
	args(&l, "--chdir", "/", NULL);
	char num[16];
	snprintf(num, sizeof num, "%d", FD_INFO);
	args(&l, "--info-fd", num, NULL);
	snprintf(num, sizeof num, "%d", FD_SECCOMP);
	args(&l, "--seccomp", num, NULL);
	args(&l, "--new-session", "--as-pid-1", NULL);

	int info[2] = { -1, -1 }, errp[2] = { -1, -1 }, ready[2] = { -1, -1 };
	int argfd = memfd_with("bwrap-args", l.args, l.len);
	int seccompfd = seccomp_filter_memfd(srv->filter);
	int userns = userns_create(sp, err, errlen);
	pid_t mid = -1;
	if (userns < 0)
		goto fail;
	if (argfd < 0 || seccompfd < 0 || pipe2(info, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot prepare the sandbox of \"%s\": %s", sp->name, strerror(errno));
		goto fail;
	}
	mid = fork();
	if (mid == 0) {
		const int fds[5] = { errp[1], info[1], ready[1], argfd, seccompfd };
		launcher(sp, userns, fds, &l);
	}
	if (mid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	close(info[1]), close(errp[1]), close(ready[1]);
	info[1] = errp[1] = ready[1] = -1;
	waitpid(mid, NULL, 0);

	long long deadline = now_ms() + 10000;
	char buf[1024], rd[16];
	read_until(info[0], buf, sizeof buf, deadline, NULL);
	json_t *o = json_loads(buf, 0, NULL);
	pid_t child = (pid_t)json_integer_value(json_object_get(o, "child-pid"));
	json_decref(o);
	pid_t pid = child;
	if (pid > 0) {
		read_until(ready[0], rd, sizeof rd, deadline, "\n");
		if (strcmp(rd, "ready\n"))
			pid = 0;
	}
	if (pid <= 0) {
		/* A half-made sandbox holds the error pipe open: never wait on it. */
		if (child > 0)
			kill(child, SIGKILL);
		fcntl(errp[0], F_SETFL, O_NONBLOCK);
		char msg[512];
		ssize_t m = read(errp[0], msg, sizeof msg - 1);
		msg[m > 0 ? m : 0] = '\0';
		snprintf(err, errlen, "cannot start the sandbox of \"%s\": %s", sp->name,
		         *rtrim(msg) ? msg : "bwrap gave no information");
		goto fail;
	}
	launch_free(&l);
	close(argfd), close(seccompfd), close(userns);
	close(info[0]), close(errp[0]), close(ready[0]);
	if (sandbox_attach(sp, pid, err, errlen) < 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	if (proxy_start(sp, err, errlen) < 0) {
		sandbox_release(&sp->sb);
		kill(pid, SIGKILL);
		return -1;
	}
	char *path = sandbox_file(sp);
	json_t *state = json_pack("{s:i, s:I}", "init_pid", (int)pid, "start_time",
	                          (json_int_t)sp->sb.start_time);
	write_json_atomic(path, state);
	json_decref(state);
	free(path);

	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(sp->meta, "last_running_at", json_string(now));
	store_save(sp);
	return 0;
fail:
	launch_free(&l);
	int fds[] = { argfd, seccompfd, userns, info[0], info[1], errp[0], errp[1], ready[0], ready[1] };
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}

int sandbox_ensure(struct sprite *sp, char *err, size_t errlen)
{
	if (sp->sb.init_pid) {
		if (kill(sp->sb.init_pid, 0) == 0 || errno == EPERM)
			return 0;
		sandbox_exited(sp);
	}
	if (sandbox_start(sp, err, errlen) == 0)
		return 0;
	fprintf(stderr, "spritesd: sprite \"%s\" cannot start: %s\n", sp->name, err);
	return -1;
}

void sandbox_exited(struct sprite *sp)
{
	sandbox_release(&sp->sb);
	cgroup_sprite_remove(sp, 0);
	char *path = sandbox_file(sp);
	unlink(path);
	free(path);
}

/* Processes in the sandbox, counted in its own /proc: init is always there. */
static int sandbox_processes(struct sprite *sp)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/root/proc", (int)sp->sb.init_pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

static int sprite_busy(struct sprite *sp)
{
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&sp->sessions)) {
		struct session *s = lws_container_of(p, struct session, list);
		if (!s->finished || s->clients.count)
			return 1;
	} lws_end_foreach_dll(p);
	return sandbox_processes(sp) != 1;
}

static void idle_cb(lws_sorted_usec_list_t *sul)
{
	struct server *srv = lws_container_of(sul, struct server, sul_idle);
	long long now = now_ms();
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&srv->sprites)) {
		/* (no `continue` in lws's foreach: it would skip the step) */
		struct sprite *sp = lws_container_of(p, struct sprite, list);
		if (sp->sb.init_pid && sprite_busy(sp))
			sp->last_active_ms = now;
		else if (sp->sb.init_pid && now - sp->last_active_ms >= srv->idle_timeout_ms)
			sandbox_stop(sp);
	} lws_end_foreach_dll_safe(p, p1);
	lws_sul_schedule(srv->context, 0, &srv->sul_idle, idle_cb, LWS_US_PER_SEC);
}

void sandbox_idle_watch(struct server *srv)
{
	lws_sul_schedule(srv->context, 0, &srv->sul_idle, idle_cb, LWS_US_PER_SEC);
}

/* The "sprite-sandbox" protocol: a sandbox's pid 1 exited (everything in it
 * is gone; the sprite is cold now). */
int sandbox_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	(void)user, (void)in, (void)len;
	struct sprite *sp = lws_get_opaque_user_data(wsi);
	if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
		/* Only our watch went away (spritesd is stopping): the sandbox
		 * lives on, and the next spritesd adopts it. */
		if (sp)
			sp->sb.pidfd_wsi = NULL;
		return 0;
	}
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	if (!sp)
		return -1;
	lws_set_opaque_user_data(wsi, NULL);
	sp->sb.pidfd_wsi = NULL;
	sandbox_exited(sp);
	return -1;
}

void sandbox_stop(struct sprite *sp)
{
	struct sandbox *sb = &sp->sb;
	if (!sb->init_pid)
		return;
	/* Killing the PID namespace's init kills every process in it. */
	int pfd = pidfd_open_(sb->init_pid);
	kill(sb->init_pid, SIGKILL);
	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		poll(&p, 1, 5000);
		close(pfd);
	}
	sandbox_exited(sp);
}

/* ---- spawning ---- */

struct spawn_report {
	int32_t pid;
	int32_t err;
	char msg[200];
};

/* Give up every capability for good, as bwrap does for its own children:
 * joining the namespaces with setns kept ours, and with them a root
 * spritesd's sprite could remount /usr read-write. */
static int drop_capabilities(void)
{
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && cap > CAP_LAST_CAP)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return 0;
}

/* The command's process, in the sandbox: plain syscalls only (it was made
 * by a raw clone3, so libc's view of its own thread is stale). */
static _Noreturn void exec_child(const struct spawn_req *req, const struct sprite_filter *filter)
{
	reset_child_signals();
	setsid();
	if (req->tty)
		ioctl(req->fd_in, TIOCSCTTY, 0);
	int fds[3] = { req->fd_in, req->fd_out, req->fd_err };
	/* Move them above 2 first so dup2 never clobbers one we still need. */
	for (int i = 0; i < 3; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD, 3)) < 0)
			_exit(126); /* never run with spritesd's own 0-2 */
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(126);
	syscall(SYS_close_range, 3, ~0U, 0);

	if (req->dir && chdir(req->dir) < 0) {
		dprintf(2, "sprite: cannot change to directory %s: %s\n", req->dir, strerror(errno));
		_exit(126);
	}
	if (drop_capabilities() < 0) {
		dprintf(2, "sprite: cannot drop capabilities: %s\n", strerror(errno));
		_exit(126);
	}
	if (seccomp_filter_load(filter) < 0) {
		dprintf(2, "sprite: cannot install the sprite's seccomp filter: %s\n", strerror(errno));
		_exit(126);
	}
	const char *path = req->path;
	int saw_eacces = 0;
	if (strchr(path, '/')) {
		execve(path, req->argv, req->envp);
		saw_eacces = errno == EACCES || errno == EISDIR;
	} else {
		const char *search = DEFAULT_PATH;
		for (char *const *e = req->envp; *e; e++)
			if (!strncmp(*e, "PATH=", 5))
				search = *e + 5;
		char buf[4096];
		for (const char *p = search; *p;) {
			const char *colon = strchr(p, ':');
			size_t dl = colon ? (size_t)(colon - p) : strlen(p);
			if (dl + 1 + strlen(path) + 1 <= sizeof buf) {
				memcpy(buf, p, dl);
				size_t at = dl;
				if (!dl)
					buf[at++] = '.';
				buf[at++] = '/';
				strcpy(buf + at, path);
				execve(buf, req->argv, req->envp);
				if (errno == EACCES)
					saw_eacces = 1;
			}
			p = colon ? colon + 1 : p + dl;
		}
	}
	if (saw_eacces) {
		dprintf(2, "sprite: %s: permission denied\n", path);
		_exit(126);
	}
	dprintf(2, "sprite: %s: command not found\n", path);
	_exit(127);
}

pid_t sandbox_spawn(struct sprite *sp, const struct spawn_req *req, char *err, size_t errlen)
{
	struct sandbox *sb = &sp->sb;
	int rep[2];
	if (pipe2(rep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* A joins the sandbox's namespaces; the command, B, is cloned from A
	 * with CLONE_PARENT so it is spritesd's own child (we reap it and get
	 * its status), living in the sandbox's PID namespace. */
	pid_t a = fork();
	if (a == 0) {
		struct spawn_report r = { 0, 0, "" };
		close(rep[0]);
		/* Into its cgroup first (from outside, with our rights), then its
		 * user namespace as its root, then the rest. */
		if (cgroup_join(sp) < 0) {
			r.err = errno;
			snprintf(r.msg, sizeof r.msg, "cannot join the sprite's cgroup: %s", strerror(errno));
			goto report;
		}
		for (size_t i = 0; i < NS_COUNT; i++) {
			if (sb->ns_fds[i] < 0)
				continue;
			if ((i == NS_USER ? userns_enter(sb->ns_fds[i], sp->ids.count > 1) : setns(sb->ns_fds[i], 0)) < 0) {
				r.err = errno;
				snprintf(r.msg, sizeof r.msg, "cannot enter the sandbox's %s namespace: %s",
				         ns_names[i], strerror(errno));
				goto report;
			}
		}
		if (fchdir(sb->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
			r.err = errno;
			snprintf(r.msg, sizeof r.msg, "cannot enter the sandbox's root: %s", strerror(errno));
			goto report;
		}
		struct clone_args ca;
		memset(&ca, 0, sizeof ca);
		ca.flags = CLONE_PARENT;
		long b = syscall(SYS_clone3, &ca, sizeof ca);
		if (b == 0)
			exec_child(req, sp->srv->filter);
		if (b < 0) {
			r.err = errno;
			snprintf(r.msg, sizeof r.msg, "cannot start a process in the sandbox: %s", strerror(errno));
		}
		r.pid = (int32_t)b;
report:
		(void)!write(rep[1], &r, sizeof r);
		_exit(0);
	}
	close(rep[1]);
	if (a < 0) {
		close(rep[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	struct spawn_report r;
	ssize_t got;
	do
		got = read(rep[0], &r, sizeof r);
	while (got < 0 && errno == EINTR);
	close(rep[0]);
	waitpid(a, NULL, 0);
	if (got != (ssize_t)sizeof r) {
		snprintf(err, errlen, "the sandbox helper died");
		return -1;
	}
	if (r.pid <= 0) {
		r.msg[sizeof r.msg - 1] = '\0';
		snprintf(err, errlen, "%s", r.msg);
		return -1;
	}
	return r.pid;
}
