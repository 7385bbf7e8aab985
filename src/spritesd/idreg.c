/* idreg.c: the host-wide record of the id ranges sprites have, so that two
 * spritesds on one host (the tests run many) never give two sprites the
 * same host ids.
 *
 * The record is a directory (--ids-dir, /run/spritesd/ids by default): a
 * file per range, named by its first id in hex, holding the directory of
 * the sprite that has it.  Claims are made under an flock of DIR/.lock,
 * taken once for however many ranges are tried.
 * A range is free again when its file is gone, when that sprite directory
 * is gone, or when the sprite's userns file names another range (spritesd
 * died without releasing it; /run empties at boot anyway). */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *entry_path(const char *dir, uid_t base)
{
	return xasprintf("%s/%08x", dir, (unsigned)base);
}

/* The sprite directory an entry names (malloc'd), or NULL when none. */
static char *entry_owner(const char *path)
{
	char *held = read_file(path, 8192, NULL);
	if (held)
		held[strcspn(held, "\n")] = '\0';
	return held;
}

/* Does the sprite directory owner still hold the range at base? */
static int owner_holds(const char *owner, uid_t base)
{
	struct stat st;
	if (stat(owner, &st) < 0)
		return errno != ENOENT;
	char *path = xasprintf("%s/userns", owner);
	char *s = read_file(path, 256, NULL);
	free(path);
	unsigned long long uid;
	/* No userns file yet: it is being made, and holds it. */
	int holds = !s || sscanf(s, "%llu", &uid) != 1 || uid == base;
	free(s);
	return holds;
}

int idreg_lock(const char *dir)
{
	if (mkdir_p(dir, 0700) < 0)
		return -1;
	char *lock = xasprintf("%s/.lock", dir);
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (lfd >= 0 && flock(lfd, LOCK_EX) < 0) {
		int e = errno;
		close(lfd);
		errno = e;
		return -1;
	}
	return lfd;
}

void idreg_unlock(int lfd)
{
	if (lfd >= 0)
		close(lfd); /* and with it the lock */
}

int idreg_claim(const char *dir, uid_t base, const char *owner)
{
	char *path = entry_path(dir, base);
	char *held = entry_owner(path);
	int rc = held && strcmp(held, owner) && owner_holds(held, base) ? 0 : 1;
	if (rc == 1 && (!held || strcmp(held, owner))) {
		char *line = xasprintf("%s\n", owner);
		if (write_file_atomic(path, line, 0600) < 0)
			rc = -1;
		free(line);
	}
	int e = errno;
	free(held);
	free(path);
	errno = e;
	return rc;
}

void idreg_release(const char *dir, uid_t base, const char *owner)
{
	char *path = entry_path(dir, base);
	char *held = entry_owner(path);
	if (held && !strcmp(held, owner))
		unlink(path);
	free(held);
	free(path);
}
