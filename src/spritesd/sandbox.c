/* sandbox.c: a sprite's bubblewrap sandbox, and spawning processes into it.
 *
 * A sprite is one machine: a long-lived bwrap process tree with its own
 * mount, PID, IPC and UTS namespaces, the host's system directories mounted
 * read-only and the sprite's own persistent home, /workspace and /tmp.  Its
 * pid 1 is bwrap's reaper; a keeper process (`sleep infinity`) holds it up.
 * Every exec joins those namespaces (setns) and starts its command there, so
 * processes started by one exec are seen by the next.  The sandbox does not
 * depend on spritesd: a restarted spritesd adopts it again (sandbox.json). */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const ns_names[6] = { "user", "ipc", "uts", "net", "pid", "mnt" };

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
	for (size_t i = 0; i < 6; i++) {
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
	for (size_t i = 0; i < 6; i++) {
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
		/* Its proxy's listening socket died with the last spritesd. */
		if (proxy_start(sp, err, sizeof err) < 0) {
			fprintf(stderr, "spritesd: sprite \"%s\": %s\n", sp->name, err);
			/* Fail closed: one that shares our network is stopped (its
			 * next command starts it confined); one that does not is
			 * left without a way out. */
			if (sp->sb.ns_fds[3] < 0) /* [3]: net, shared with us */
				sandbox_stop(sp);
		}
		return;
	}
	unlink(path);
	free(path);
}

/* Mount a host system directory read-only, or recreate it as the same
 * symlink (merged-/usr systems link /bin to usr/bin).  *owned collects the
 * strings allocated here. */
static void add_system_dir(char **argv, size_t *n, const char *dir, char **owned)
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
		argv[(*n)++] = "--symlink";
		argv[(*n)++] = *owned = xstrdup(target);
		argv[(*n)++] = (char *)dir;
	} else if (S_ISDIR(st.st_mode)) {
		argv[(*n)++] = "--ro-bind";
		argv[(*n)++] = (char *)dir;
		argv[(*n)++] = (char *)dir;
	}
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

/* Start the sprite's bwrap sandbox and read its pid 1 from --info-fd. */
static int sandbox_start(struct sprite *sp, char *err, size_t errlen)
{
	/* Its network policy, shown read-only at /.sprite/policy/network.json. */
	char *policy_dir = netpolicy_publish(sp, err, errlen);
	if (!policy_dir)
		return -1;
	char *home = xasprintf("%s/fs/home", sp->dir);
	char *ws = xasprintf("%s/fs/workspace", sp->dir);
	char *tmp = xasprintf("%s/fs/tmp", sp->dir);
	/* /etc is the host's, but /etc/hostname says the sprite's name. */
	char *hostname = xasprintf("%s/hostname", sp->dir);
	char *line = xasprintf("%s\n", sp->name);
	int hfd = open(hostname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (hfd >= 0) {
		(void)!write(hfd, line, strlen(line));
		close(hfd);
	}
	free(line);
	char *argv[96];
	size_t n = 0;
	argv[n++] = "bwrap";
	argv[n++] = "--unshare-pid";
	argv[n++] = "--unshare-ipc";
	argv[n++] = "--unshare-uts";
	argv[n++] = "--unshare-net"; /* loopback only: the way out is proxy.c's */
	argv[n++] = "--hostname";
	argv[n++] = sp->name;
	argv[n++] = "--ro-bind";
	argv[n++] = "/usr";
	argv[n++] = "/usr";
	static const char *const sysdirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	                                       "/etc", "/opt" };
	char *owned[sizeof sysdirs / sizeof *sysdirs] = { NULL };
	for (size_t i = 0; i < sizeof sysdirs / sizeof *sysdirs; i++)
		add_system_dir(argv, &n, sysdirs[i], &owned[i]);
	static const char *const rest[] = {
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/run",
		/* /etc/resolv.conf may point into systemd-resolved's runtime dir. */
		"--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve",
		"--dir", "/var", "--symlink", "../tmp", "/var/tmp",
		"--dir", "/.sprite",
	};
	for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
		argv[n++] = (char *)rest[i];
	argv[n++] = "--ro-bind";
	argv[n++] = hostname;
	argv[n++] = "/etc/hostname";
	argv[n++] = "--ro-bind";
	argv[n++] = policy_dir;
	argv[n++] = "/.sprite/policy";
	argv[n++] = "--bind";
	argv[n++] = home;
	argv[n++] = "/home/sprite";
	argv[n++] = "--bind";
	argv[n++] = ws;
	argv[n++] = "/workspace";
	argv[n++] = "--bind";
	argv[n++] = tmp;
	argv[n++] = "/tmp";
	argv[n++] = "--chdir";
	argv[n++] = "/";
	argv[n++] = "--info-fd";
	argv[n++] = "3";
	argv[n++] = "--";
	/* bwrap reports its pid before it has built the sandbox; the keeper
	 * says "ready" on fd 4 once it runs inside the finished one. */
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = "echo ready >&4; exec sleep infinity 4>&-";
	argv[n] = NULL;

	int info[2], errp[2], ready[2];
	if (pipe2(info, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(home), free(ws), free(tmp), free(hostname), free(policy_dir);
		return -1;
	}
	/* Double fork: bwrap is not our child, so it outlives us the same way
	 * whether we started it or adopted it after a restart. */
	pid_t mid = fork();
	if (mid == 0) {
		reset_child_signals();
		setsid();
		if (fork() != 0)
			_exit(0);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(errp[1], 2);
		dup2(info[1], 3);
		dup2(ready[1], 4);
		syscall(SYS_close_range, 5, ~0U, 0);
		static char *const envp[] = { "PATH=" DEFAULT_PATH, "HOME=/home/sprite", NULL };
		execvpe("bwrap", argv, envp);
		dprintf(2, "cannot run bwrap: %s (install bubblewrap)", strerror(errno));
		_exit(127);
	}
	close(info[1]);
	close(errp[1]);
	close(ready[1]);
	free(home), free(ws), free(tmp), free(hostname), free(policy_dir);
	for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
		free(owned[i]);
	if (mid < 0) {
		close(info[0]);
		close(errp[0]);
		close(ready[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	waitpid(mid, NULL, 0);

	long long deadline = now_ms() + 10000;
	char buf[1024], rd[16];
	read_until(info[0], buf, sizeof buf, deadline, NULL);
	close(info[0]);
	json_t *o = json_loads(buf, 0, NULL);
	pid_t pid = (pid_t)json_integer_value(json_object_get(o, "child-pid"));
	json_decref(o);
	if (pid > 0) {
		read_until(ready[0], rd, sizeof rd, deadline, "\n");
		if (strcmp(rd, "ready\n"))
			pid = 0;
	}
	close(ready[0]);
	if (pid <= 0) {
		char msg[512];
		ssize_t m = read(errp[0], msg, sizeof msg - 1);
		msg[m > 0 ? m : 0] = '\0';
		close(errp[0]);
		snprintf(err, errlen, "cannot start the sandbox of \"%s\": %s", sp->name,
		         *rtrim(msg) ? msg : "bwrap gave no information");
		return -1;
	}
	close(errp[0]);
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
}

int sandbox_ensure(struct sprite *sp, char *err, size_t errlen)
{
	if (sp->sb.init_pid) {
		if (kill(sp->sb.init_pid, 0) == 0 || errno == EPERM)
			return 0;
		sandbox_exited(sp);
	}
	return sandbox_start(sp, err, errlen);
}

void sandbox_exited(struct sprite *sp)
{
	sandbox_release(&sp->sb);
	char *path = sandbox_file(sp);
	unlink(path);
	free(path);
}

/* Processes in the sandbox, counted in its own /proc: bwrap's pid 1 and the
 * keeper are always there. */
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
	return sandbox_processes(sp) != 2;
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
static void drop_capabilities(void)
{
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && cap > CAP_LAST_CAP)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	syscall(SYS_capset, &hdr, data);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* The command's process, in the sandbox: plain syscalls only (it was made
 * by a raw clone3, so libc's view of its own thread is stale). */
static _Noreturn void exec_child(const struct spawn_req *req)
{
	reset_child_signals();
	setsid();
	if (req->tty)
		ioctl(req->fd_in, TIOCSCTTY, 0);
	int fds[3] = { req->fd_in, req->fd_out, req->fd_err };
	/* Move them above 2 first so dup2 never clobbers one we still need. */
	for (int i = 0; i < 3; i++)
		fds[i] = fcntl(fds[i], F_DUPFD, 3);
	for (int i = 0; i < 3; i++)
		dup2(fds[i], i);
	syscall(SYS_close_range, 3, ~0U, 0);

	if (req->dir && chdir(req->dir) < 0) {
		dprintf(2, "sprite: cannot change to directory %s: %s\n", req->dir, strerror(errno));
		_exit(126);
	}
	drop_capabilities();
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
		for (size_t i = 0; i < 6; i++) {
			if (sb->ns_fds[i] >= 0 && setns(sb->ns_fds[i], 0) < 0) {
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
			exec_child(req);
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
