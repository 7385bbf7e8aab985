/* t-seccomp: the seccomp filter sprites run under (src/spritesd/seccomp.c):
 * built, handed over in a sealed memfd, and loaded in a child, where what
 * it refuses is refused with the right errno and ordinary things still work.
 *
 * The child sends each result down a pipe and the parent prints it, so the
 * TAP numbering stays in one process.  Each refused call is one that fails
 * differently, and harmlessly, without the filter: a broken filter shows as
 * a wrong errno, never as a mount over /tmp or a key typed into a tty. */
#include "../../src/spritesd/spritesd.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct result {
	int pass;
	char desc[160];
	char diag[200];
};

static int chan = -1; /* the child's end of the pipe */

static void report(int pass, const char *diag, const char *fmt, ...)
{
	struct result r = { .pass = pass };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r.desc, sizeof r.desc, fmt, ap);
	va_end(ap);
	snprintf(r.diag, sizeof r.diag, "%s", diag ? diag : "");
	if (write(chan, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(99);
}

static void expect_err(long rc, int e, int want, const char *desc)
{
	char diag[200] = "";
	int pass = rc == -1 && e == want;
	if (!pass)
		snprintf(diag, sizeof diag, "got %ld (errno %d, %s), want -1 (errno %d, %s)", rc,
		         rc == -1 ? e : 0, rc == -1 ? strerror(e) : "-", want, strerror(want));
	report(pass, diag, "%s", desc);
}

/* A call the filter must refuse with errno want. */
#define REFUSED(call, want, desc)                                              \
	do {                                                                       \
		errno = 0;                                                             \
		long rc_ = (long)(call);                                               \
		int e_ = errno;                                                        \
		expect_err(rc_, e_, want, desc);                                       \
	} while (0)

/* After a raw clone: the child (if any) leaves at once, the parent reaps
 * it and keeps the clone's errno. */
static long cloned(long rc)
{
	if (rc == 0)
		_exit(0);
	int e = errno;
	if (rc > 0)
		waitpid((pid_t)rc, NULL, 0);
	errno = e;
	return rc;
}

/* A raw clone with flags, like fork. */
static long clone_with(unsigned long flags)
{
	return cloned(syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0));
}

/* clone3 with no flags; struct clone_args (version 0) spelled as 8 u64s. */
static long clone3_plain(void)
{
	uint64_t args[8] = { 0 };
	args[4] = SIGCHLD; /* exit_signal */
	return cloned(syscall(SYS_clone3, args, sizeof args));
}

/* Is personality value v one Docker allows? */
static int persona_ok(uint64_t v)
{
	return v == 0 || v == 0x8 || v == 0x20000 || v == 0x20008 || v == 0xffffffff;
}

/* Try personality(v) raw (all 64 bits); 1 if the answer matched the list. */
static int persona_try(uint64_t v, char *diag, size_t dlen)
{
	errno = 0;
	long rc = syscall(SYS_personality, (unsigned long)v);
	int e = errno;
	if (rc != -1 && v != 0xffffffff)
		syscall(SYS_personality, 0UL); /* undo it, whatever it was */
	int allowed = rc != -1;
	if (allowed == persona_ok(v) && (allowed || e == EPERM))
		return 1;
	snprintf(diag, dlen, "personality(%#llx): got %ld (errno %d), want %s", (unsigned long long)v, rc, e,
	         persona_ok(v) ? "success" : "EPERM");
	return 0;
}

static void check_personality(void)
{
	char diag[200] = "";
	int pass = 1, n = 0;
	uint64_t fixed[] = { 0, 0x8, 0x20000, 0x20008, 0xffffffff, 0xfffffffe, 0xfffffff7, 0xfffdffff,
	                     0x7fffffff, 0x20009, 0x20018, 0x30008, 0x0400000, 0x0040000, 0x100000000ull,
	                     0x100000008ull, 0xffffffffffffffffull, 0xffffffff00000000ull };
	for (size_t i = 0; pass && i < sizeof fixed / sizeof fixed[0]; i++, n++)
		pass = persona_try(fixed[i], diag, sizeof diag);
	for (int b = 0; pass && b < 64; b++, n++) {
		pass = persona_try(1ull << b, diag, sizeof diag);
		if (pass)
			pass = persona_try(0xffffffffull & ~(1ull << b), diag, sizeof diag), n++;
	}
	uint32_t x = 2463534242u; /* xorshift32: a fixed spread of values */
	for (int i = 0; pass && i < 2000; i++, n++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		uint64_t v = i % 3 == 0 ? x : i % 3 == 1 ? (x & 0x20008u) | (x & 0x10000u ? 0xfffdfff7u : 0) : x | 0xfffdfff7u;
		pass = persona_try(v, diag, sizeof diag);
	}
	report(pass, diag, "personality: %d values allowed or refused as Docker's list says", n);
}

/* i386 syscalls (int 0x80) get the same rules: unshare(CLONE_NEWUSER) is
 * refused there too.  Run in a grandchild: without ia32 emulation int 0x80
 * is a SIGSEGV. */
static void check_i386(void)
{
#if defined(__x86_64__)
	pid_t pid = fork();
	if (pid == 0) {
		/* A sanitizer's handler would make the SIGSEGV a report. */
		signal(SIGSEGV, SIG_DFL);
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) /* i386 getpid */ : "memory", "cc", "r8", "r9", "r10", "r11");
		if (r != getpid())
			_exit(3);
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(310L) /* i386 unshare */, "b"((long)CLONE_NEWUSER)
		                 : "memory", "cc", "r8", "r9", "r10", "r11");
		_exit(r == -EPERM ? 0 : r == 0 ? 1 : 2);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) {
		report(1, NULL, "# skip no i386 syscalls here (signal %d)", WTERMSIG(st));
		return;
	}
	char diag[200];
	snprintf(diag, sizeof diag, "exit %d (1: it succeeded, 2: another error, 3: i386 getpid failed)",
	         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	report(WIFEXITED(st) && WEXITSTATUS(st) == 0, diag, "i386 unshare(CLONE_NEWUSER) is EPERM too");
#else
	report(1, NULL, "# skip not x86_64");
#endif
}

static void *thread_main(void *arg)
{
	return arg;
}

static _Noreturn void child(const struct sprite_filter *f)
{
	char diag[200] = "";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_filter_load(f) < 0) {
		snprintf(diag, sizeof diag, "%s", strerror(errno));
		report(0, diag, "seccomp_filter_load");
		_exit(1);
	}
	report(1, NULL, "seccomp_filter_load");

	/* ---- refused ---- */
	static const struct {
		unsigned long flag;
		const char *name;
	} ns[] = {
		{ CLONE_NEWUSER, "CLONE_NEWUSER" }, { CLONE_NEWNS, "CLONE_NEWNS" },
		{ CLONE_NEWPID, "CLONE_NEWPID" },   { CLONE_NEWNET, "CLONE_NEWNET" },
		{ CLONE_NEWUTS, "CLONE_NEWUTS" },   { CLONE_NEWIPC, "CLONE_NEWIPC" },
		{ CLONE_NEWCGROUP, "CLONE_NEWCGROUP" }, { CLONE_NEWTIME, "CLONE_NEWTIME" },
	};
	char desc[160];
	/* clone first: an unshare let through would change what clone does. */
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		if (ns[i].flag == CLONE_NEWTIME)
			continue; /* in clone's exit-signal byte */
		snprintf(desc, sizeof desc, "clone(%s) is EPERM", ns[i].name);
		REFUSED(clone_with(ns[i].flag), EPERM, desc);
	}
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		snprintf(desc, sizeof desc, "unshare(%s) is EPERM", ns[i].name);
		REFUSED(unshare((int)ns[i].flag), EPERM, desc);
	}
	REFUSED(clone3_plain(), ENOSYS, "clone3 is ENOSYS");
	REFUSED(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0), EPERM, "keyctl is EPERM");
	REFUSED(syscall(SYS_bpf, 0, NULL, 0), EPERM, "bpf is EPERM");
	REFUSED(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM, "perf_event_open is EPERM");
	REFUSED(syscall(SYS_userfaultfd, O_CLOEXEC), EPERM, "userfaultfd is EPERM");
	REFUSED(mount("none", "/nonexistent/t-seccomp", "tmpfs", 0, NULL), EPERM, "mount is EPERM");
	char params[120] = { 0 }; /* struct io_uring_params */
	long ring = syscall(SYS_io_uring_setup, 1, params);
	if (ring >= 0)
		close((int)ring);
	expect_err(ring, errno, ENOSYS, "io_uring_setup is ENOSYS");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char c = 'x';
	REFUSED(ioctl(null, TIOCSTI, &c), EPERM, "ioctl(TIOCSTI) is EPERM");
	REFUSED(syscall(SYS_ioctl, null, 0xdead000000000000ul | TIOCSTI, &c), EPERM,
	        "ioctl(TIOCSTI) with high bits set is EPERM");
	REFUSED(ioctl(null, TIOCLINUX, &c), EPERM, "ioctl(TIOCLINUX) is EPERM");
	REFUSED(setns(-1, 0), EPERM, "setns is EPERM");
	REFUSED(personality(READ_IMPLIES_EXEC), EPERM, "personality(READ_IMPLIES_EXEC) is EPERM");
	errno = 0;
	int per = personality(0xffffffff);
	snprintf(diag, sizeof diag, "got %d (%s)", per, strerror(errno));
	report(per != -1, diag, "personality(0xffffffff) (the query) works");
	check_personality();
#if defined(__x86_64__)
	REFUSED(syscall(0x40000000 /* __X32_SYSCALL_BIT */ | SYS_getpid), ENOSYS, "x32 syscalls are ENOSYS");
#else
	report(1, NULL, "# skip not x86_64");
#endif
	check_i386();

	/* ---- still allowed ---- */
	long p = syscall(SYS_getpid);
	report(p == getpid() && p > 0, NULL, "getpid works");
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	int st = 0;
	report(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, NULL,
	       "fork and wait work");
	errno = 0;
	int u = unshare(0);
	snprintf(diag, sizeof diag, "got %d (%s)", u, strerror(errno));
	report(u == 0, diag, "unshare(0) works");
	struct termios t;
	REFUSED(ioctl(null, TCGETS, &t), ENOTTY, "ioctl(TCGETS) on a non-tty is ENOTTY, not EPERM");
	pthread_t th;
	int tr = pthread_create(&th, NULL, thread_main, NULL);
	report(tr == 0 && pthread_join(th, NULL) == 0, strerror(tr), "threads start (glibc falls back from clone3 to clone)");
	int src = 42, dst = 0;
	struct iovec li = { &dst, sizeof dst }, ri = { &src, sizeof src };
	report(process_vm_readv(getpid(), &li, 1, &ri, 1, 0) == (ssize_t)sizeof dst && dst == 42, strerror(errno),
	       "process_vm_readv works");
	_exit(0);
}

int main(void)
{
	plan(46);

	/* ---- build ---- */
	struct sprite_filter f;
	char err[512] = "";
	int rc = seccomp_filter_build(&f, err, sizeof err);
	ok(rc == 0, "seccomp_filter_build");
	if (rc < 0) {
		printf("# %s\n", err);
		return done_testing();
	}
	printf("# %u instructions\n", f.len);

	/* ---- the memfd for bwrap ---- */
	int fd = seccomp_filter_memfd(&f);
	ok(fd >= 0, "seccomp_filter_memfd");
	struct stat st;
	is_int(fstat(fd, &st) == 0 ? st.st_size : -1, (long long)f.len * (long long)sizeof(struct sock_filter),
	       "the memfd holds len instructions");
	size_t size = (size_t)f.len * sizeof(struct sock_filter);
	char *buf = malloc(size + 1);
	ok(read(fd, buf, size + 1) == (ssize_t)size && !memcmp(buf, f.prog, size),
	   "read from where it is left, it is the program");
	free(buf);
	errno = 0;
	ok(pwrite(fd, "x", 1, 0) == -1 && errno == EPERM, "writing to it fails (sealed): %s", strerror(errno));
	int want = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	is_int(fcntl(fd, F_GET_SEALS) & want, want, "its seals are write, shrink, grow and seal");
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "it is close-on-exec");
	close(fd);

	/* ---- loaded in a child ---- */
	int pfd[2];
	if (pipe(pfd) < 0)
		return 1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		chan = pfd[1];
		child(&f);
	}
	close(pfd[1]);
	struct result r;
	while (read(pfd[0], &r, sizeof r) == (ssize_t)sizeof r) {
		ok(r.pass, "%s", r.desc);
		if (!r.pass && r.diag[0])
			printf("#   %s\n", r.diag);
	}
	close(pfd[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child finished (status %#x)", status);
	seccomp_filter_free(&f);
	return done_testing();
}
