/* cgroup.c: a cgroup per sprite, which its limits are set on: the number of
 * processes, memory (tmpfs pages included: the kernel charges them to the
 * writer's cgroup, and they stay charged after it exits) and CPU.
 *
 * cgroup v1 where the memory controller has a v1 hierarchy (this is what
 * hybrid hosts have), else v2.  The sprites' cgroups hang under spritesd's
 * own, in each hierarchy, as spritesd-HASH/NAME: HASH is taken from the state
 * directory, so several spritesds on one host (the tests run many) never
 * share one, and a restarted spritesd finds its sprites' cgroups again.
 * spritesd-HASH caps all its sprites together (limits_total), so that many
 * sprites at their own limits still leave the host its memory and pids.
 * STATEDIR/cgroups lists the spritesd-HASH directories, for whoever cleans
 * up after a spritesd that was killed.
 *
 * Processes join a sprite's cgroup by writing "0" (themselves) into the
 * cgroup.procs files spritesd keeps open, from the forked child that then
 * enters the sandbox: everything it starts inherits the cgroup. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const v1_controllers[CG_MAX] = { "memory", "pids", "cpu" };

#define CPU_PERIOD_US 100000

/* 64-bit FNV-1a: a short, stable name for the state directory. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static int write_at(const char *dir, const char *file, const char *val)
{
	char *path = xasprintf("%s/%s", dir, file);
	int r = write_to(path, val);
	int e = errno;
	free(path);
	errno = e;
	return r;
}

static int exists_at(const char *dir, const char *file)
{
	char *path = xasprintf("%s/%s", dir, file);
	int r = access(path, F_OK) == 0;
	free(path);
	return r;
}

/* Our own cgroup in the hierarchy whose /proc/self/cgroup line has the
 * controller (v1), or the v2 one (controller NULL): its directory under
 * the hierarchy's mount point.  NULL when there is none. */
static char *own_cgroup_dir(const char *controller)
{
	char *cg = read_file("/proc/self/cgroup", 1 << 16, NULL);
	char *mi = read_file("/proc/self/mountinfo", 1 << 20, NULL);
	char *result = NULL, *own = NULL;
	if (!cg || !mi)
		goto out;
	for (char *line = strtok(cg, "\n"); line && !own; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		if (!controller) {
			if (!strcmp(line, "0") && c1[1] == '\0')
				own = xstrdup(c2 + 1);
			continue;
		}
		for (char *save = NULL, *c = strtok_r(c1 + 1, ",", &save); c; c = strtok_r(NULL, ",", &save))
			if (!strcmp(c, controller))
				own = xstrdup(c2 + 1);
	}
	if (!own)
		goto out;
	/* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS */
	for (char *save = NULL, *line = strtok_r(mi, "\n", &save); line && !result;
	     line = strtok_r(NULL, "\n", &save)) {
		char root[4096], mnt[4096], fstype[64], super[4096];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %4095s", fstype, super) != 2)
			continue;
		int match = 0;
		if (!controller) {
			match = !strcmp(fstype, "cgroup2");
		} else if (!strcmp(fstype, "cgroup")) {
			for (char *s2 = NULL, *o = strtok_r(super, ",", &s2); o; o = strtok_r(NULL, ",", &s2))
				match |= !strcmp(o, controller);
		}
		size_t rl = strlen(root);
		if (!match || strncmp(own, root, rl) || (own[rl] != '/' && own[rl] != '\0' && rl > 1))
			continue;
		const char *rest = rl > 1 ? own + rl : own;
		result = xasprintf("%s%s", mnt, strcmp(rest, "/") ? rest : "");
	}
out:
	free(own);
	free(cg);
	free(mi);
	return result;
}

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* v2: make the controllers available to the children of dir.  A cgroup
 * with processes of its own cannot hand them down (the "no internal
 * processes" rule), so if ours has, spritesd first moves into a leaf. */
static int v2_delegate(const char *dir, char *err, size_t errlen)
{
	static const char want[] = "+memory +pids +cpu";
	if (write_at(dir, "cgroup.subtree_control", want) == 0)
		return 0;
	if (errno == EBUSY) {
		char *leaf = xasprintf("%s/spritesd", dir);
		int ok = mkdir_ok(leaf) == 0 && write_at(leaf, "cgroup.procs", "0") == 0 &&
		         write_at(dir, "cgroup.subtree_control", want) == 0;
		free(leaf);
		if (ok)
			return 0;
	}
	snprintf(err, errlen, "cannot enable the memory, pids and cpu controllers in %s: %s "
	         "(run spritesd as root, or as systemd-run --user --scope -p Delegate=yes spritesd)",
	         dir, strerror(errno));
	return -1;
}

static int apply_v1(const char *const dirs[CG_MAX], const struct limits *lim, char *err, size_t errlen);
static int apply_v2(const char *dir, const struct limits *lim, char *err, size_t errlen);

int cgroup_setup(struct server *srv, char *err, size_t errlen)
{
	struct cgroups *cg = &srv->cg;
	char *name = xasprintf("spritesd-%016llx", (unsigned long long)fnv1a(srv->statedir));
	char *v1 = own_cgroup_dir("memory");
	int rc = -1;
	if (v1) {
		free(v1);
		cg->version = 1;
		for (int i = 0; i < CG_MAX; i++) {
			char *own = own_cgroup_dir(v1_controllers[i]);
			if (!own) {
				snprintf(err, errlen, "no cgroup v1 hierarchy with the %s controller is mounted "
				         "(mount it, or boot with cgroup v2)", v1_controllers[i]);
				goto out;
			}
			cg->dir[i] = xasprintf("%s/%s", own, name);
			free(own);
			if (mkdir_ok(cg->dir[i]) < 0) {
				snprintf(err, errlen, "cannot create the cgroup %s: %s (run spritesd as root)",
				         cg->dir[i], strerror(errno));
				goto out;
			}
		}
	} else {
		char *own = own_cgroup_dir(NULL);
		if (!own) {
			snprintf(err, errlen, "no cgroup hierarchy is mounted (mount cgroup2 on /sys/fs/cgroup)");
			goto out;
		}
		char *ctl = xasprintf("%s/cgroup.controllers", own);
		char *have = read_file(ctl, 4096, NULL);
		free(ctl);
		int ok = have && strstr(have, "memory") && strstr(have, "pids") && strstr(have, "cpu");
		free(have);
		if (!ok) {
			snprintf(err, errlen, "the cgroup %s lacks the memory, pids or cpu controller", own);
			free(own);
			goto out;
		}
		cg->version = 2;
		cg->dir[0] = xasprintf("%s/%s", own, name);
		if (v2_delegate(own, err, errlen) < 0 || mkdir_ok(cg->dir[0]) < 0 ||
		    write_at(cg->dir[0], "cgroup.subtree_control", "+memory +pids +cpu") < 0) {
			if (!*err)
				snprintf(err, errlen, "cannot create the cgroup %s: %s (run spritesd as root)",
				         cg->dir[0], strerror(errno));
			free(own);
			goto out;
		}
		free(own);
	}
	/* All sprites together: what one sprite may use, times a few, must
	 * not take the host (limits.c). */
	struct limits total;
	limits_total(&srv->limits, &total);
	if ((cg->version == 1 ? apply_v1((const char *const *)cg->dir, &total, err, errlen)
	                      : apply_v2(cg->dir[0], &total, err, errlen)) < 0)
		goto out;
	/* For cleaning up after a killed spritesd (tests do). */
	char *list = NULL;
	for (int i = 0; i < CG_MAX && cg->dir[i]; i++) {
		char *more = xasprintf("%s%s\n", list ? list : "", cg->dir[i]);
		free(list);
		list = more;
	}
	char *path = xasprintf("%s/cgroups", srv->statedir);
	write_file_atomic(path, list, 0644);
	free(path);
	free(list);
	rc = 0;
out:
	if (rc < 0) {
		for (int i = 0; i < CG_MAX; i++) {
			free(cg->dir[i]);
			cg->dir[i] = NULL;
		}
		cg->version = 0;
	}
	free(name);
	return rc;
}

void cgroup_free(struct server *srv)
{
	for (int i = 0; i < CG_MAX; i++) {
		if (srv->cg.dir[i])
			rmdir(srv->cg.dir[i]); /* only when no sprite's cgroup is left */
		free(srv->cg.dir[i]);
		srv->cg.dir[i] = NULL;
	}
}

static char *sprite_dir(const struct sprite *sp, int i)
{
	return xasprintf("%s/%s", sp->srv->cg.dir[i], sp->name);
}

/* Set one limit, naming it in err on failure. */
static int set_limit(const char *dir, const char *file, const char *val, char *err, size_t errlen)
{
	if (write_at(dir, file, val) == 0)
		return 0;
	snprintf(err, errlen, "cannot set %s/%s to %s: %s", dir, file, val, strerror(errno));
	return -1;
}

static int apply_v1(const char *const dirs[CG_MAX], const struct limits *lim, char *err, size_t errlen)
{
	char val[32];
	const char *mem = dirs[0];
	snprintf(val, sizeof val, "%lld", lim->memory);
	/* memsw (memory + swap) must stay >= the memory limit: raise or lower
	 * them in the order that keeps it so. */
	int has_memsw = exists_at(mem, "memory.memsw.limit_in_bytes");
	if (write_at(mem, "memory.limit_in_bytes", val) == 0) {
		if (has_memsw && set_limit(mem, "memory.memsw.limit_in_bytes", val, err, errlen) < 0)
			return -1;
	} else if (!has_memsw || set_limit(mem, "memory.memsw.limit_in_bytes", val, err, errlen) < 0 ||
	           set_limit(mem, "memory.limit_in_bytes", val, err, errlen) < 0) {
		if (!has_memsw)
			set_limit(mem, "memory.limit_in_bytes", val, err, errlen);
		return -1;
	}
	snprintf(val, sizeof val, "%lld", lim->pids);
	if (set_limit(dirs[1], "pids.max", val, err, errlen) < 0)
		return -1;
	if (set_limit(dirs[2], "cpu.shares", "1024", err, errlen) < 0)
		return -1;
	if (lim->cpus > 0)
		snprintf(val, sizeof val, "%lld", (long long)(lim->cpus * CPU_PERIOD_US));
	else
		snprintf(val, sizeof val, "-1");
	char period[32];
	snprintf(period, sizeof period, "%d", CPU_PERIOD_US);
	return set_limit(dirs[2], "cpu.cfs_period_us", period, err, errlen) < 0 ||
	       set_limit(dirs[2], "cpu.cfs_quota_us", val, err, errlen) < 0 ? -1 : 0;
}

static int apply_v2(const char *dir, const struct limits *lim, char *err, size_t errlen)
{
	char val[64];
	snprintf(val, sizeof val, "%lld", lim->memory);
	if (set_limit(dir, "memory.max", val, err, errlen) < 0)
		return -1;
	if (exists_at(dir, "memory.swap.max") && set_limit(dir, "memory.swap.max", "0", err, errlen) < 0)
		return -1;
	snprintf(val, sizeof val, "%lld", lim->pids);
	if (set_limit(dir, "pids.max", val, err, errlen) < 0 ||
	    set_limit(dir, "cpu.weight", "100", err, errlen) < 0)
		return -1;
	if (lim->cpus > 0)
		snprintf(val, sizeof val, "%lld %d", (long long)(lim->cpus * CPU_PERIOD_US), CPU_PERIOD_US);
	else
		snprintf(val, sizeof val, "max %d", CPU_PERIOD_US);
	return set_limit(dir, "cpu.max", val, err, errlen);
}

int cgroup_sprite_open(struct sprite *sp, char *err, size_t errlen)
{
	struct cgroups *cg = &sp->srv->cg;
	if (!cg->version) {
		snprintf(err, errlen, "sprite \"%s\" has no cgroup", sp->name);
		return -1;
	}
	int n = cg->version == 1 ? CG_MAX : 1;
	char *dirs[CG_MAX] = { NULL };
	int rc = -1;
	for (int i = 0; i < n; i++) {
		dirs[i] = sprite_dir(sp, i);
		if (mkdir_ok(dirs[i]) < 0) {
			snprintf(err, errlen, "cannot create the cgroup %s: %s", dirs[i], strerror(errno));
			goto out;
		}
	}
	struct limits lim;
	sprite_limits(sp, &lim);
	if ((cg->version == 1 ? apply_v1((const char *const *)dirs, &lim, err, errlen)
	                      : apply_v2(dirs[0], &lim, err, errlen)) < 0)
		goto out;
	cgroup_sprite_close(sp);
	for (int i = 0; i < n; i++) {
		char *procs = xasprintf("%s/cgroup.procs", dirs[i]);
		sp->cg_procs[i] = open(procs, O_WRONLY | O_CLOEXEC);
		free(procs);
		if (sp->cg_procs[i] < 0) {
			snprintf(err, errlen, "cannot open %s/cgroup.procs: %s", dirs[i], strerror(errno));
			cgroup_sprite_close(sp);
			goto out;
		}
	}
	rc = 0;
out:
	for (int i = 0; i < CG_MAX; i++)
		free(dirs[i]);
	return rc;
}

int cgroup_join(const struct sprite *sp)
{
	int n = sp->srv->cg.version == 1 ? CG_MAX : sp->srv->cg.version == 2 ? 1 : 0;
	if (!n) {
		errno = ENOENT;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (sp->cg_procs[i] < 0) {
			errno = EBADF; /* never unconfined: the cgroup was not opened */
			return -1;
		}
		if (write(sp->cg_procs[i], "0", 1) != 1)
			return -1;
	}
	/* spritesd raised its own descriptor limit (main.c, fd_budget): sprite
	 * processes get the one it was started with. */
	if (setrlimit(RLIMIT_NOFILE, &sp->srv->fds.inherited) < 0)
		return -1;
	/* Should the host itself run out of memory, sprite processes go first;
	 * a sprite may lower this to 0, never below spritesd's (main.c). */
	return write_to("/proc/self/oom_score_adj", "1000");
}

void cgroup_sprite_close(struct sprite *sp)
{
	for (int i = 0; i < CG_MAX; i++) {
		if (sp->cg_procs[i] >= 0)
			close(sp->cg_procs[i]);
		sp->cg_procs[i] = -1;
	}
}

void cgroup_sprite_remove(struct sprite *sp, int wait)
{
	cgroup_sprite_close(sp);
	struct cgroups *cg = &sp->srv->cg;
	for (int i = 0; i < CG_MAX && cg->dir[i]; i++) {
		char *dir = sprite_dir(sp, i);
		/* Killed processes leave the cgroup as they finish exiting. */
		for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY && wait && tries < 100; tries++)
			poll(NULL, 0, 20);
		free(dir);
	}
}
