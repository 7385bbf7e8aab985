/* limits.c: what a sprite may use.  spritesd's defaults (--max-memory,
 * --max-disk, --max-pids) are the smaller of a Fly.io sprite's machine
 * (8 GB of memory, 100 GB of disk) and a share of this host, so that one
 * sprite running wild leaves the host and the other sprites alive.  A
 * sprite's own come from its create request's "config", as Fly's API has
 * them: ram_mb, cpus, storage_gb, and our "pids". */
#include "spritesd.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FLY_MEMORY (8LL << 30)
#define FLY_DISK (100LL << 30)
#define PIDS_CEILING 4096

static long long host_memory(void)
{
	return (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
}

static long long host_pid_max(void)
{
	char *s = read_file("/proc/sys/kernel/pid_max", 64, NULL);
	long long pid_max = s ? atoll(s) : 32768;
	free(s);
	return pid_max > 0 ? pid_max : 32768;
}

void limits_default(struct limits *lim, const char *statedir)
{
	long long ram = host_memory();
	lim->memory = ram > 0 && ram / 2 < FLY_MEMORY ? ram / 2 : FLY_MEMORY;
	/* An eighth of the pid space: eight sprites forking flat out still
	 * leave the host processes to run. */
	long long pid_max = host_pid_max();
	lim->pids = pid_max / 8 < PIDS_CEILING ? pid_max / 8 : PIDS_CEILING;
	/* Half of the filesystem the sprites' files are on. */
	char *sprites = xasprintf("%s/sprites", statedir);
	struct statvfs vfs;
	long long fs = statvfs(sprites, &vfs) == 0 ? (long long)vfs.f_blocks * (long long)vfs.f_frsize : 0;
	free(sprites);
	lim->disk = fs > 0 && fs / 2 < FLY_DISK ? fs / 2 : FLY_DISK;
	lim->cpus = 0;
}

/* All sprites together: three quarters of the memory and half of the pid
 * space, so that the host keeps the rest whatever the sprites do; never
 * less than one sprite may have (--max-* said so). */
void limits_total(const struct limits *each, struct limits *total)
{
	long long ram = host_memory(), pid_max = host_pid_max();
	total->memory = ram * 3 / 4 > each->memory ? ram * 3 / 4 : each->memory;
	total->pids = pid_max / 2 > each->pids ? pid_max / 2 : each->pids;
	total->disk = 0;
	total->cpus = 0;
}

static double config_number(const json_t *config, const char *key)
{
	json_t *v = json_object_get(config, key);
	return json_is_number(v) ? json_number_value(v) : 0;
}

void sprite_limits(const struct sprite *sp, struct limits *lim)
{
	*lim = sp->srv->limits;
	json_t *config = json_object_get(sp->meta, "config");
	double ram_mb = config_number(config, "ram_mb"), storage_gb = config_number(config, "storage_gb");
	double cpus = config_number(config, "cpus"), pids = config_number(config, "pids");
	/* Its own, up to spritesd's: --max-* are ceilings as well as defaults. */
	if (ram_mb > 0 && ((long long)ram_mb << 20) < lim->memory)
		lim->memory = (long long)ram_mb << 20;
	if (storage_gb > 0 && (!lim->disk || (long long)(storage_gb * (1 << 30)) < lim->disk))
		lim->disk = (long long)(storage_gb * (1 << 30));
	if (cpus > 0)
		lim->cpus = cpus;
	if (pids > 0 && (long long)pids < lim->pids)
		lim->pids = (long long)pids;
}

/* Each limit a request may set: its smallest and largest sane values. */
static const struct {
	const char *key;
	double min, max;
	int whole;
	const char *what;
} config_keys[] = {
	{ "ram_mb", 32, 1 << 30, 1, "a whole number of MiB, at least 32" },
	{ "storage_gb", 1.0 / 16, 1 << 20, 0, "a number of GiB, at least 0.0625" },
	{ "cpus", 0.01, 4096, 0, "a number of CPUs, at least 0.01" },
	{ "pids", 16, 1 << 22, 1, "a whole number of processes, at least 16" },
};

int limits_check_config(json_t *config, char *err, size_t errlen)
{
	if (!config || json_is_null(config))
		return 0;
	if (!json_is_object(config)) {
		snprintf(err, errlen, "invalid config: an object with ram_mb, cpus, storage_gb or pids");
		return -1;
	}
	for (size_t i = 0; i < sizeof config_keys / sizeof *config_keys; i++) {
		json_t *v = json_object_get(config, config_keys[i].key);
		if (!v || json_is_null(v) || (json_is_number(v) && json_number_value(v) == 0))
			continue; /* the default */
		double d = json_is_number(v) ? json_number_value(v) : -1;
		if (d < config_keys[i].min || d > config_keys[i].max || (config_keys[i].whole && d != (double)(long long)d)) {
			snprintf(err, errlen, "invalid config: %s must be %s (0 or absent: spritesd's default)",
			         config_keys[i].key, config_keys[i].what);
			return -1;
		}
	}
	return 0;
}

void limits_show(const struct sprite *sp, json_t *config)
{
	struct limits lim;
	sprite_limits(sp, &lim);
	json_object_set_new(config, "ram_mb", json_integer(lim.memory >> 20));
	json_object_set_new(config, "storage_gb", lim.disk % (1LL << 30)
	                    ? json_real((double)lim.disk / (1 << 30)) : json_integer(lim.disk >> 30));
	if (lim.cpus > 0 && lim.cpus != (double)(long long)lim.cpus)
		json_object_set_new(config, "cpus", json_real(lim.cpus));
	else
		json_object_set_new(config, "cpus", json_integer(lim.cpus > 0 ? (json_int_t)lim.cpus
		                                                              : sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_set_new(config, "pids", json_integer(lim.pids));
}
