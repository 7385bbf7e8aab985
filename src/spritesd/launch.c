/* launch.c: starting a sprite's sandbox.  The launcher, a grandchild of
 * spritesd (so that bwrap is nobody's child and outlives us as an adopted
 * sandbox does), stages the sprite's directories, joins its cgroup and user
 * namespace as its root and runs bwrap, which makes the other namespaces
 * and the sprite's file tree (spritesd.1, SANDBOX) and runs init.c's init
 * as pid 1.  What bwrap is told comes from here, on file descriptors. */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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
	child_reset_signals();
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
	for (int i = 0; i < 5 + l->n_extra; i++)
		if ((moved[n++] = fcntl(i < 5 ? fds[i] : l->extra[i - 5], F_DUPFD_CLOEXEC, FD_EXTRA + EXTRA_MAX)) < 0) {
			dprintf(err, "cannot pass bwrap its descriptors: %s", strerror(errno));
			_exit(1);
		}
	/* Nothing of spritesd's (its log, its stdin) may reach the sandbox. */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	static const int place[5] = { 2, FD_INFO, FD_READY, FD_ARGS, FD_SECCOMP };
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0) {
		dprintf(err, "cannot open /dev/null: %s", strerror(errno));
		_exit(1);
	}
	for (int i = 0; i < n; i++)
		if (dup2(moved[i], i < 5 ? place[i] : FD_EXTRA + i - 5) < 0)
			_exit(1);
	syscall(SYS_close_range, FD_EXTRA + l->n_extra, ~0U, 0);
	char fdnum[16];
	snprintf(fdnum, sizeof fdnum, "%d", FD_ARGS);
	/* The command stays on the command line (bwrap reads only options
	 * from --args).  bwrap reports its pid before it has built the
	 * sandbox; init says "ready" once it runs inside the finished one. */
	char *const argv[] = { "bwrap", "--args", fdnum, "--", SPRITE_INIT, SPRITE_INIT_ARG, NULL };
	static char *const envp[] = { "PATH=" SPRITE_DEFAULT_PATH, "HOME=/home/sprite", NULL };
	execvpe("bwrap", argv, envp);
	dprintf(2, "cannot run bwrap: %s (install bubblewrap)", strerror(errno));
	_exit(127);
}


pid_t launch_sandbox(struct sprite *sp, const struct limits *lim, char *policy_dir, char *err, size_t errlen)
{
	struct server *srv = sp->srv;
	pid_t result = -1;
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
	snprintf(size, sizeof size, "%lld", lim->memory / 2);
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
		goto done;
	if (argfd < 0 || seccompfd < 0 || pipe2(info, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot prepare the sandbox of \"%s\": %s", sp->name, strerror(errno));
		goto done;
	}
	mid = fork();
	if (mid == 0) {
		const int fds[5] = { errp[1], info[1], ready[1], argfd, seccompfd };
		launcher(sp, userns, fds, &l);
	}
	if (mid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto done;
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
		goto done;
	}
	result = pid;
done:
	launch_free(&l);
	int fds[] = { argfd, seccompfd, userns, info[0], info[1], errp[0], errp[1], ready[0], ready[1] };
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return result;
}
