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

static const char *const ns_names[NS_COUNT] = { "user", "ipc", "uts", "net", "pid", "mnt", "cgroup" };

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
void child_reset_signals(void)
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
	pid_t pid = launch_sandbox(sp, &lim, policy_dir, err, errlen);
	if (pid < 0)
		return -1;
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
	child_reset_signals();
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
		const char *search = SPRITE_DEFAULT_PATH;
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
