/* store.c: the sprite registry.  Each sprite is a directory
 * STATEDIR/sprites/NAME holding sprite.json (its API object) and fs/ (its
 * persistent files: home, workspace, tmp). */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static void rfc3339(char *buf, size_t len, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *uuid4(void)
{
	uint8_t b[16];
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		memset(b, 0x5a, sizeof b);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	                 b[11], b[12], b[13], b[14], b[15]);
}

int write_file_atomic(const char *path, const char *data, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	int r = write_all(fd, data, strlen(data));
	if (close(fd) < 0)
		r = -1;
	if (r == 0)
		r = rename(tmp, path);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

int write_json_atomic(const char *path, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	if (!s)
		return -1;
	char *line = xasprintf("%s\n", s);
	int r = write_file_atomic(path, line, 0644);
	free(line);
	free(s);
	return r;
}

int store_save(struct sprite *sp)
{
	char *path = xasprintf("%s/sprite.json", sp->dir);
	int r = write_json_atomic(path, sp->meta);
	free(path);
	return r;
}

static struct sprite *sprite_new(struct server *srv, const char *name, json_t *meta)
{
	struct sprite *sp = xcalloc(1, sizeof *sp);
	sp->srv = srv;
	snprintf(sp->name, sizeof sp->name, "%s", name);
	sp->dir = xasprintf("%s/sprites/%s", srv->statedir, name);
	sp->meta = meta;
	for (size_t i = 0; i < NS_COUNT; i++)
		sp->sb.ns_fds[i] = -1;
	for (size_t i = 0; i < CG_MAX; i++)
		sp->cg_procs[i] = -1;
	sp->sb.root_fd = -1;
	lws_dll2_add_tail(&sp->list, &srv->sprites);
	return sp;
}

static void sprite_free(struct sprite *sp)
{
	lws_dll2_remove(&sp->list);
	sandbox_release(&sp->sb);
	cgroup_sprite_close(sp);
	policy_free(sp->policy);
	json_decref(sp->meta);
	free(sp->dir);
	free(sp);
}

int store_load(struct server *srv)
{
	char *root = xasprintf("%s/sprites", srv->statedir);
	DIR *d = opendir(root);
	if (!d) {
		free(root);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!valid_sprite_name(de->d_name))
			continue;
		char *path = xasprintf("%s/%s/sprite.json", root, de->d_name);
		json_t *meta = json_load_file(path, 0, NULL);
		free(path);
		if (!json_is_object(meta)) {
			/* A half-created sprite (crash between mkdir and save): not listed. */
			json_decref(meta);
			continue;
		}
		struct sprite *sp = sprite_new(srv, de->d_name, meta);
		/* Every range known before a new sprite picks one. */
		char err[256];
		if (!srv->no_sandboxes && userns_ids(sp, err, sizeof err) < 0)
			fprintf(stderr, "spritesd: sprite \"%s\": %s\n", sp->name, err);
		sandbox_adopt(sp);
	}
	closedir(d);
	free(root);
	return 0;
}

struct sprite *store_find(struct server *srv, const char *name)
{
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&srv->sprites)) {
		struct sprite *sp = lws_container_of(p, struct sprite, list);
		if (!strcmp(sp->name, name))
			return sp;
	} lws_end_foreach_dll(p);
	return NULL;
}

static int mkdirs(const char *base, const char *const *subs)
{
	for (; *subs; subs++) {
		char *p = xasprintf("%s/%s", base, *subs);
		int r = mkdir(p, 0755);
		free(p);
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

struct sprite *store_create(struct server *srv, const char *name, json_t *request,
                            int *status, char *err, size_t errlen)
{
	if (!valid_sprite_name(name)) {
		*status = 400;
		snprintf(err, errlen, "invalid sprite name \"%.80s\": " SPRITE_NAME_RULE, name);
		return NULL;
	}
	if (store_find(srv, name)) {
		*status = 400;
		snprintf(err, errlen, "sprite \"%s\" already exists", name);
		return NULL;
	}
	json_t *config = json_object_get(request, "config");
	if (limits_check_config(config, err, errlen) < 0) {
		*status = 400;
		return NULL;
	}
	char *dir = xasprintf("%s/sprites/%s", srv->statedir, name);
	static const char *const subs[] = { "fs", "fs/home", "fs/workspace", "fs/tmp", NULL };
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*status = 500;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	/* On btrfs the sprite's files are a subvolume, so they can be snapshotted
	 * (checkpoint.c); mkdirs then finds fs/ there. */
	char *fs = xasprintf("%s/fs", dir);
	if (srv->sprites_btrfs && subvol_create(fs) < 0 && errno != EEXIST) {
		*status = 500;
		snprintf(err, errlen, "cannot create the btrfs subvolume %s: %s", fs, strerror(errno));
		free(fs);
		free(dir);
		return NULL;
	}
	free(fs);
	if (mkdirs(dir, subs) < 0) {
		*status = 500;
		snprintf(err, errlen, "cannot create the sprite's files in %s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	char *tmpdir = xasprintf("%s/fs/tmp", dir);
	chmod(tmpdir, 01777);
	free(tmpdir);
	free(dir);

	char now[32];
	rfc3339(now, sizeof now, time(NULL));
	char *id = uuid4();
	char *sid = xasprintf("sprite-%s", id);
	char *url = xasprintf("%s/v1/sprites/%s", srv->base_url, name);
	json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:n, s:n, s:s, s:s, "
	                         "s:{s:i, s:i, s:s, s:i}}",
	                         "id", sid, "name", name, "organization", "local", "status", "cold",
	                         "url", url, "url_settings", "auth", "sprite",
	                         "created_at", now, "updated_at", now,
	                         "last_running_at", "last_warming_at",
	                         "version", SPRITESD_VERSION, "environment_version", SPRITESD_VERSION,
	                         "config", "ram_mb", 0, "cpus", 0, "region", "local", "storage_gb", 0);
	free(id);
	free(sid);
	free(url);
	json_t *labels = json_object_get(request, "labels");
	if (json_is_array(labels) && json_array_size(labels))
		json_object_set(meta, "labels", labels);
	/* The limits it asked for (0: spritesd's default, resolved when it runs). */
	static const char *const limit_keys[] = { "ram_mb", "cpus", "storage_gb", "pids" };
	for (size_t i = 0; i < sizeof limit_keys / sizeof *limit_keys; i++) {
		json_t *v = json_object_get(config, limit_keys[i]);
		if (json_is_number(v))
			json_object_set(json_object_get(meta, "config"), limit_keys[i], v);
	}
	json_t *us = json_object_get(request, "url_settings");
	if (json_is_object(us))
		json_object_update(json_object_get(meta, "url_settings"), us);

	struct sprite *sp = sprite_new(srv, name, meta);
	if (store_save(sp) < 0) {
		*status = 500;
		snprintf(err, errlen, "cannot save sprite \"%s\": %s", name, strerror(errno));
		remove_tree(sp->dir);
		sprite_free(sp);
		return NULL;
	}
	return sp;
}

const char *sprite_status(struct sprite *sp)
{
	return sp->sb.init_pid ? "running" : "cold";
}

json_t *sprite_json(struct sprite *sp)
{
	json_t *o = json_deep_copy(sp->meta);
	json_object_set_new(o, "status", json_string(sprite_status(sp)));
	json_t *config = json_object_get(o, "config");
	if (json_is_object(config))
		limits_show(sp, config);
	return o;
}

/* nftw callbacks: make every directory writable first (a sprite may have
 * chmod'ed some read-only), then remove bottom-up. */
static int make_writable(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | S_IRWXU);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	int r = (type == FTW_DP || type == FTW_D) ? rmdir(path) : unlink(path);
	return r < 0 && errno != ENOENT ? -1 : 0;
}

int remove_tree(const char *path)
{
	/* btrfs: the sprite's files and its checkpoints go whole, one ioctl each. */
	subvol_purge(path);
	nftw(path, make_writable, 32, FTW_PHYS);
	if (nftw(path, remove_entry, 32, FTW_PHYS | FTW_DEPTH) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int store_destroy(struct sprite *sp)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&sp->sessions)) {
		session_destroy(lws_container_of(p, struct session, list));
	} lws_end_foreach_dll_safe(p, p1);
	sandbox_stop(sp);
	cgroup_sprite_remove(sp, 1);
	checkpoint_sprite_gone(sp, 1);
	if (sp->ids.count > 1)
		idreg_release(sp->srv->ids_dir, sp->ids.uid, sp->dir); /* while sp->dir says they are its */
	/* Rename first so a crash mid-removal never leaves a listed half-sprite. */
	char *trash = xasprintf("%s/sprites/.deleting-%s-%d", sp->srv->statedir, sp->name, (int)getpid());
	const char *victim = rename(sp->dir, trash) == 0 ? trash : sp->dir;
	int r = remove_tree(victim);
	free(trash);
	sprite_free(sp);
	return r;
}

void store_free_all(struct server *srv)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&srv->sprites)) {
		struct sprite *sp = lws_container_of(p, struct sprite, list);
		sp->sb.pidfd_wsi = NULL; /* closed with the lws context */
		if (!sp->sb.init_pid)
			cgroup_sprite_remove(sp, 0); /* a running one keeps its cgroup */
		checkpoint_sprite_gone(sp, 0);
		lws_start_foreach_dll_safe(struct lws_dll2 *, q, q1, lws_dll2_get_head(&sp->sessions)) {
			session_forget(lws_container_of(q, struct session, list));
		} lws_end_foreach_dll_safe(q, q1);
		sprite_free(sp);
	} lws_end_foreach_dll_safe(p, p1);
}
