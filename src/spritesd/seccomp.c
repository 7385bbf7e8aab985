/* seccomp.c: the seccomp filter every process of a sprite runs under.
 *
 * A sprite's processes are root in their own user namespace, with every
 * capability dropped and no_new_privs set.  The kernel already refuses them
 * most privileged operations; this filter is defence in depth on top, and
 * it closes what an unprivileged process could still do: make a user
 * namespace (and with it a fresh set of capabilities), reach kernel
 * interfaces with a history of exploits (keyrings, bpf, perf, userfaultfd,
 * io_uring), or push input into a terminal it shares with someone else.
 *
 * The policy is a deny-list over a default of ALLOW, after Docker's default
 * profile (moby profiles/seccomp/default.json) for a container without
 * CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_SYS_NICE.  It is built once with
 * libseccomp and kept as classic BPF: bwrap loads it from a sealed memfd
 * (--seccomp FD), and a process joining a running sandbox installs it with
 * seccomp_filter_load, which makes plain syscalls only. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/btrfs.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Syscalls refused outright, by name: a name this libseccomp does not know
 * (a syscall newer than it) is skipped, so that building never fails on it. */
static const struct {
	const char *name;
	int err;
} denied[] = {
	/* Namespaces: the sandbox made all it needs before the filter. */
	{ "setns", EPERM },             /* joining another namespace: escape route */
	{ "clone3", ENOSYS },           /* flags sit in memory, out of BPF's reach; ENOSYS makes glibc fall back to clone */
	/* Kernel attack surface an unprivileged process can still reach. */
	{ "keyctl", EPERM },            /* keyrings are not namespaced */
	{ "add_key", EPERM },           /* keyrings are not namespaced */
	{ "request_key", EPERM },       /* keyrings are not namespaced */
	{ "bpf", EPERM },               /* eBPF: verifier bugs; Docker needs CAP_SYS_ADMIN */
	{ "perf_event_open", EPERM },   /* leaks kernel state, long exploit history */
	{ "userfaultfd", EPERM },       /* stalls kernel page faults: a race-exploit tool */
	{ "io_uring_setup", ENOSYS },   /* io_uring: big attack surface; libuv/node fall back on ENOSYS */
	{ "io_uring_enter", ENOSYS },   /* io_uring, as above */
	{ "io_uring_register", ENOSYS }, /* io_uring, as above */
	{ "fanotify_init", EPERM },     /* watches whole filesystems; Docker needs CAP_SYS_ADMIN */
	{ "lookup_dcookie", EPERM },    /* profiling interface; Docker needs CAP_SYS_ADMIN */
	{ "open_by_handle_at", EPERM }, /* opens files outside the sandbox's root (the "shocker" escape) */
	{ "name_to_handle_at", EPERM }, /* the other half of open_by_handle_at */
	{ "kcmp", EPERM },              /* compares kernel pointers; Docker needs CAP_SYS_PTRACE */
	{ "pidfd_getfd", EPERM },       /* takes another process's fds; Docker needs CAP_SYS_PTRACE */
	{ "process_madvise", EPERM },   /* acts on another process's memory; Docker needs CAP_SYS_PTRACE */
	/* Mounts: the sandbox's tree is final. */
	{ "mount", EPERM },             /* Docker needs CAP_SYS_ADMIN */
	{ "umount2", EPERM },           /* Docker needs CAP_SYS_ADMIN */
	{ "umount", EPERM },            /* i386's umount */
	{ "pivot_root", EPERM },        /* Docker needs CAP_SYS_ADMIN */
	{ "move_mount", EPERM },        /* new mount API: same as mount */
	{ "open_tree", EPERM },         /* new mount API: same as mount */
	{ "fsopen", EPERM },            /* new mount API: same as mount */
	{ "fsconfig", EPERM },          /* new mount API: same as mount */
	{ "fsmount", EPERM },           /* new mount API: same as mount */
	{ "fspick", EPERM },            /* new mount API: same as mount */
	{ "mount_setattr", EPERM },     /* new mount API: same as mount */
	{ "quotactl", EPERM },          /* disk quotas are the host's */
	{ "quotactl_fd", EPERM },       /* disk quotas are the host's */
	/* The machine itself: never a sprite's business. */
	{ "reboot", EPERM },            /* Docker needs CAP_SYS_BOOT */
	{ "kexec_load", EPERM },        /* loads a new kernel */
	{ "kexec_file_load", EPERM },   /* loads a new kernel */
	{ "init_module", EPERM },       /* kernel modules */
	{ "finit_module", EPERM },      /* kernel modules */
	{ "delete_module", EPERM },     /* kernel modules */
	{ "create_module", EPERM },     /* kernel modules (obsolete) */
	{ "get_kernel_syms", EPERM },   /* kernel modules (obsolete) */
	{ "query_module", EPERM },      /* kernel modules (obsolete) */
	{ "swapon", EPERM },            /* swap is the host's */
	{ "swapoff", EPERM },           /* swap is the host's */
	{ "acct", EPERM },              /* process accounting is the host's */
	{ "syslog", EPERM },            /* the kernel log leaks addresses */
	{ "vhangup", EPERM },           /* hangs up the terminal; Docker needs CAP_SYS_TTY_CONFIG */
	{ "settimeofday", EPERM },      /* the clock is the host's */
	{ "clock_settime", EPERM },     /* the clock is the host's */
	{ "clock_settime64", EPERM },   /* i386's time64 clock_settime */
	{ "clock_adjtime", EPERM },     /* the clock is the host's */
	{ "clock_adjtime64", EPERM },   /* i386's time64 clock_adjtime */
	{ "adjtimex", EPERM },          /* the clock is the host's */
	{ "stime", EPERM },             /* i386's settimeofday */
	{ "iopl", EPERM },              /* raw I/O ports */
	{ "ioperm", EPERM },            /* raw I/O ports */
	{ "vm86", EPERM },              /* i386 virtual 8086 mode */
	{ "vm86old", EPERM },           /* i386 virtual 8086 mode */
	{ "mbind", EPERM },             /* NUMA placement; Docker needs CAP_SYS_NICE */
	{ "set_mempolicy", EPERM },     /* NUMA placement; Docker needs CAP_SYS_NICE */
	{ "set_mempolicy_home_node", EPERM }, /* NUMA placement, the newest of the family */
	{ "migrate_pages", EPERM },     /* NUMA placement; Docker needs CAP_SYS_NICE */
	{ "move_pages", EPERM },        /* NUMA placement; Docker needs CAP_SYS_NICE */
	{ "lsm_set_self_attr", EPERM }, /* LSM labels are the host's */
	/* Obsolete interfaces nothing current uses. */
	{ "nfsservctl", EPERM },        /* removed from the kernel */
	{ "uselib", EPERM },            /* a.out libraries */
	{ "_sysctl", EPERM },           /* removed from the kernel */
	{ "ustat", EPERM },             /* obsolete statfs */
	{ "sysfs", EPERM },             /* obsolete filesystem-type query */
};

/* Namespace flags: unshare and clone with any of them get EPERM.  The user
 * namespace matters most (it hands out capabilities); the others need
 * CAP_SYS_ADMIN, which is dropped, and are refused here too. */
static const unsigned long ns_flags[] = {
	CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
	CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP, CLONE_NEWTIME,
};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32 (0x0008),
 * UNAME26 (0x20000), both, and the query 0xffffffff.  Others (such as
 * READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE) weaken memory protections. */
#define PER_OK_BITS 0x20008u

static int fail(char *err, size_t errlen, const char *what, int rc)
{
	snprintf(err, errlen, "cannot build the seccomp filter: %s: %s", what, strerror(rc < 0 ? -rc : rc));
	return -1;
}

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned ncmp,
               const struct scmp_arg_cmp *cmp, char *err, size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown to this libseccomp: see denied[] */
	int rc = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp);
	if (rc < 0) {
		char what[80];
		snprintf(what, sizeof what, "the rule for %s", name);
		return fail(err, errlen, what, rc);
	}
	return 0;
}

/* EPERM for personality(2) outside Docker's five values.  libseccomp
 * allows one comparison per argument in a rule (and no ALLOW rule under a
 * default of ALLOW), so the complement is spelled out as masked rules:
 * for each bit b outside PER_OK_BITS and the next such bit c (cyclically,
 * over 32 bits), "b set and c clear"; then "bit 0 set and an OK bit clear";
 * then anything above 32 bits.  A value outside the list has its other bits
 * mixed (some set bit is followed by a clear one), or all set with an OK bit
 * clear, or all clear (then it is listed); a listed value matches none. */
static int deny_personality(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	int bits[32], n = 0;
	for (int b = 0; b < 32; b++)
		if (!(PER_OK_BITS & (1u << b)))
			bits[n++] = b;
	for (int i = 0; i < n; i++) {
		uint64_t set = 1ull << bits[i], clear = 1ull << bits[(i + 1) % n];
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, set | clear, set);
		if (add(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &c, err, errlen) < 0)
			return -1;
	}
	for (int b = 0; b < 32; b++) {
		if (!(PER_OK_BITS & (1u << b)))
			continue;
		uint64_t set = 1ull << bits[0], clear = 1ull << b;
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, set | clear, set);
		if (add(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &c, err, errlen) < 0)
			return -1;
	}
	/* The kernel reads 32 bits; Docker's rules compare all 64, so do we. */
	struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_GT, 0xffffffffull);
	return add(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &c, err, errlen);
}

static int add_rules(scmp_filter_ctx ctx, uint32_t native, char *err, size_t errlen)
{
	/* clone's flags are its first argument, except on s390 (the second). */
	unsigned clone_arg = native == SCMP_ARCH_S390 || native == SCMP_ARCH_S390X ? 1 : 0;
	for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
		unsigned long fl = ns_flags[i];
		struct scmp_arg_cmp u = SCMP_A0(SCMP_CMP_MASKED_EQ, fl, fl);
		struct scmp_arg_cmp c = SCMP_CMP(clone_arg, SCMP_CMP_MASKED_EQ, fl, fl);
		if (add(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1, &u, err, errlen) < 0)
			return -1;
		/* For clone, 0x80 (CLONE_NEWTIME) lies in the exit-signal byte:
		 * clone cannot make a time namespace, so no rule. */
		if (fl != CLONE_NEWTIME && add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &c, err, errlen) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
		if (add(ctx, SCMP_ACT_ERRNO(denied[i].err), denied[i].name, 0, NULL, err, errlen) < 0)
			return -1;
	/* TIOCSTI and TIOCLINUX push input into a terminal (another process
	 * may share it); the kernel reads the request's low 32 bits only, so
	 * mask them: upper bits must not get around the rule. */
	/* btrfs lets anyone make a subvolume or a snapshot where they may
	 * write, and a nested subvolume is outside the quota that holds a
	 * sprite's files (and outside its checkpoints). */
	static const unsigned long denied_ioctls[] = { TIOCSTI, TIOCLINUX, BTRFS_IOC_SUBVOL_CREATE,
	                                               BTRFS_IOC_SUBVOL_CREATE_V2, BTRFS_IOC_SNAP_CREATE,
	                                               BTRFS_IOC_SNAP_CREATE_V2 };
	for (size_t i = 0; i < sizeof denied_ioctls / sizeof denied_ioctls[0]; i++) {
		struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffull, denied_ioctls[i] & 0xffffffffull);
		if (add(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &c, err, errlen) < 0)
			return -1;
	}
	/* vsock ignores network namespaces: on a VM host it reaches the
	 * hypervisor's side, around the proxy and the policy (Docker refuses
	 * it too).  i386's socketcall hides its arguments in memory. */
	struct scmp_arg_cmp vsock = SCMP_A0(SCMP_CMP_EQ, AF_VSOCK);
	if (add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &vsock, err, errlen) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socketpair", 1, &vsock, err, errlen) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(ENOSYS), "socketcall", 0, NULL, err, errlen) < 0)
		return -1;
	/* ptrace and process_vm_readv/writev stay allowed, as Docker does on
	 * kernels >= 4.8: debuggers need them, and the user namespace already
	 * confines whom they reach.  chroot stays too: it needs CAP_SYS_CHROOT. */
	return deny_personality(ctx, err, errlen);
}

/* Read the whole of fd (from offset 0) into f. */
static int read_prog(int fd, struct sprite_filter *f, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, "fstat", errno);
	size_t size = (size_t)st.st_size;
	if (size == 0 || size % sizeof(struct sock_filter) || size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		snprintf(err, errlen, "cannot build the seccomp filter: libseccomp made a program of %zu bytes", size);
		return -1;
	}
	char *buf = xmalloc(size);
	for (size_t got = 0; got < size;) {
		ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
		if (r <= 0 && !(r < 0 && errno == EINTR)) {
			free(buf);
			return fail(err, errlen, "reading the exported program", r < 0 ? errno : EIO);
		}
		if (r > 0)
			got += (size_t)r;
	}
	f->prog = (struct sock_filter *)buf;
	f->len = (unsigned short)(size / sizeof(struct sock_filter));
	return 0;
}

int seccomp_filter_build(struct sprite_filter *f, char *err, size_t errlen)
{
	f->prog = NULL;
	f->len = 0;
	/* Default ALLOW: a deny-list, so new harmless syscalls just work. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return fail(err, errlen, "seccomp_init", ENOMEM);
	int rc, fd = -1, ret = -1;
	uint32_t native = seccomp_arch_native();
	/* An architecture the filter does not know gets ENOSYS rather than
	 * a kill: programs probing for an ABI then fail gracefully.  On
	 * x86_64 that covers x32: libseccomp sends syscall numbers with the
	 * x32 bit to this action unless x32 is added (it is not). */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS))) < 0) {
		fail(err, errlen, "setting the bad-architecture action", rc);
		goto out;
	}
	/* i386 binaries (int 0x80) run on x86_64: they get the same rules,
	 * added to both architectures at once by seccomp_rule_add. */
	if (native == SCMP_ARCH_X86_64 && (rc = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && rc != -EEXIST) {
		fail(err, errlen, "adding the x86 architecture", rc);
		goto out;
	}
	if (add_rules(ctx, native, err, errlen) < 0)
		goto out;
	/* libseccomp 2.5 exports to an fd only: a memfd, read back. */
	if ((fd = memfd_create("spritesd-seccomp", MFD_CLOEXEC)) < 0) {
		fail(err, errlen, "memfd_create", errno);
		goto out;
	}
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
		fail(err, errlen, "seccomp_export_bpf", rc);
		goto out;
	}
	ret = read_prog(fd, f, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return ret;
}

void seccomp_filter_free(struct sprite_filter *f)
{
	free(f->prog);
	f->prog = NULL;
	f->len = 0;
}

int seccomp_filter_load(const struct sprite_filter *f)
{
	if (!f->prog || !f->len) {
		errno = EINVAL;
		return -1;
	}
	struct sock_fprog fp = { .len = f->len, .filter = f->prog };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	/* Kernels before 3.17 have only the prctl. */
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp);
}

int seccomp_filter_memfd(const struct sprite_filter *f)
{
	if (!f->prog || !f->len) {
		errno = EINVAL;
		return -1;
	}
	int fd = memfd_create("spritesd-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	const char *p = (const char *)f->prog;
	size_t left = (size_t)f->len * sizeof(struct sock_filter);
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	/* Sealed: nobody holding the fd can change the program bwrap reads. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}
