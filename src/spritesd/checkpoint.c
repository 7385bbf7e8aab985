/* checkpoint.c: checkpoints (spec section 5).
 *
 *   POST checkpoint                 make one: NDJSON info... then complete or error
 *   GET  checkpoints                every one, newest first (as Fly's CLI lists them)
 *   GET  checkpoints/ID             one; 404 when unknown
 *   POST checkpoints/ID/restore     bring the sprite's files back: NDJSON as for create
 *
 * A checkpoint is a read-only btrfs snapshot of the sprite's files (their
 * subvolume fs/: home, workspace, tmp), made live in one ioctl whose cost
 * does not grow with the files, while the sprite's processes go on running.
 * In the sprite's directory STATEDIR/sprites/NAME:
 *
 *   fs/                  the live files (a subvolume)
 *   checkpoints/vN/      checkpoint vN (a read-only snapshot of fs/)
 *   checkpoints/vN.json  its API object, written once the snapshot exists
 *   checkpoints/source   the id the live files descend from (source_id)
 *
 * A snapshot without its .json (spritesd died between the two) is not a
 * checkpoint: it is not listed, and the next create replaces it.  Restore
 * stops the sprite (its processes belong to files that are going) and swaps
 * a writable snapshot of vN in for fs/ with one rename; the old files are
 * deleted afterwards by a detached process.  The work is done in the
 * request's callback: an ioctl or two, milliseconds, except that btrfs first
 * writes out data the sprite wrote and the kernel has not yet (seconds after
 * writing a GiB), during which spritesd answers nothing else. */
#include "spritesd.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ID_DIGITS_MAX 9 /* v0 .. v999999999 */

static void now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "vN" with N a number without leading zeros: its N, else -1.  Ids come
 * from URLs and file names, so this is also what keeps them out of paths. */
static long id_number(const char *id)
{
	if (id[0] != 'v' || !id[1] || strlen(id + 1) > ID_DIGITS_MAX ||
	    strspn(id + 1, "0123456789") != strlen(id + 1) || (id[1] == '0' && id[2]))
		return -1;
	return strtol(id + 1, NULL, 10);
}

static char *cp_path(struct sprite *sp, const char *id, const char *suffix)
{
	return xasprintf("%s/checkpoints/%s%s", sp->dir, id, suffix);
}

/* The checkpoint's API object (new reference), or NULL when there is no
 * such checkpoint. */
static json_t *cp_load(struct sprite *sp, const char *id)
{
	if (id_number(id) < 0)
		return NULL;
	char *meta = cp_path(sp, id, ".json"), *snap = cp_path(sp, id, "");
	json_t *o = json_load_file(meta, 0, NULL);
	struct stat st;
	if (!json_is_object(o) || stat(snap, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    !json_is_string(json_object_get(o, "id")) ||
	    strcmp(json_string_value(json_object_get(o, "id")), id)) {
		json_decref(o);
		o = NULL;
	}
	free(meta);
	free(snap);
	return o;
}

/* Every checkpoint's number, ascending; the highest number any name in
 * checkpoints/ uses goes in *highest (-1: none). */
static size_t cp_numbers(struct sprite *sp, long **out, long *highest)
{
	char *dir = xasprintf("%s/checkpoints", sp->dir);
	DIR *d = opendir(dir);
	free(dir);
	size_t n = 0, cap = 0;
	*out = NULL;
	*highest = -1;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char name[32];
		if (strlen(de->d_name) >= sizeof name)
			continue;
		strcpy(name, de->d_name);
		char *dot = strrchr(name, '.');
		int is_meta = dot && !strcmp(dot, ".json");
		if (is_meta)
			*dot = '\0';
		long num = id_number(name);
		if (num < 0)
			continue;
		if (num > *highest)
			*highest = num;
		if (!is_meta)
			continue;
		if (n == cap)
			*out = xrealloc(*out, (cap = cap ? 2 * cap : 16) * sizeof **out);
		(*out)[n++] = num;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
			long t = (*out)[j];
			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
	return n;
}

static json_t *event(const char *type, const char *key, const char *text)
{
	char now[32];
	now_rfc3339(now, sizeof now);
	return json_pack("{s:s, s:s, s:s}", "type", type, key, text, "time", now);
}

static void info(struct conn *c, const char *text)
{
	http_stream_line(c, event("info", "data", text));
}

/* The stream's last line: an error event, then the end. */
static int fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct conn *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_stream_line(c, event("error", "error", msg));
	http_stream_end(c);
	return 0;
}

static int finish(struct conn *c, const char *fmt, const char *id)
{
	char msg[128];
	snprintf(msg, sizeof msg, fmt, id);
	http_stream_line(c, event("complete", "data", msg));
	http_stream_end(c);
	return 0;
}

/* Can this sprite's files be snapshotted?  If not, why, and what to do. */
static const char *unavailable(struct sprite *sp, char *buf, size_t len)
{
	if (sp->srv->no_checkpoints)
		return sp->srv->no_checkpoints;
	char *fs = xasprintf("%s/fs", sp->dir);
	int ok = subvol_is(fs);
	free(fs);
	if (ok)
		return NULL;
	snprintf(buf, len, "the files of sprite \"%s\" are a plain directory, not a btrfs subvolume "
	         "(it was made before checkpoints were available): make a new sprite to use them",
	         sp->name);
	return buf;
}


static void set_source(struct sprite *sp, const char *id)
{
	char *path = xasprintf("%s/checkpoints/source", sp->dir), *line = xasprintf("%s\n", id);
	write_file_atomic(path, line, 0644);
	free(line);
	free(path);
}

static char *get_source(struct sprite *sp)
{
	char *path = xasprintf("%s/checkpoints/source", sp->dir);
	char *s = read_file(path, 64, NULL);
	free(path);
	if (s && id_number(rtrim(s)) < 0) {
		free(s);
		s = NULL;
	}
	return s;
}

static int create(struct lws *wsi, struct conn *c, struct sprite *sp)
{
	const char *comment = "";
	json_t *body = NULL;
	if (c->body_len) {
		json_error_t jerr;
		body = json_loadb(c->body, c->body_len, 0, &jerr);
		json_t *jc = json_object_get(body, "comment");
		if (!json_is_object(body) || (jc && !json_is_string(jc) && !json_is_null(jc))) {
			json_decref(body);
			return http_respond_error(wsi, c, 400, "bad_request",
			                          "the body must be a JSON object, {\"comment\":\"...\"} or {}");
		}
		if (json_is_string(jc))
			comment = json_string_value(jc);
	}
	if (http_stream_begin(wsi, c, 200) < 0) {
		json_decref(body);
		return -1;
	}
	info(c, "Creating checkpoint...");
	char why[512];
	const char *no = unavailable(sp, why, sizeof why);
	if (no) {
		json_decref(body);
		return fail(c, "Checkpoint failed: %s", no);
	}
	char *dir = xasprintf("%s/checkpoints", sp->dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		json_decref(body);
		int e = errno;
		free(dir);
		return fail(c, "Checkpoint failed: cannot create %s/checkpoints: %s", sp->dir, strerror(e));
	}
	free(dir);
	long *nums, highest;
	cp_numbers(sp, &nums, &highest);
	free(nums);
	char id[24];
	snprintf(id, sizeof id, "v%ld", highest + 1);
	if (id_number(id) < 0) {
		json_decref(body);
		return fail(c, "Checkpoint failed: sprite \"%s\" has used every checkpoint id", sp->name);
	}
	char *fs = xasprintf("%s/fs", sp->dir), *snap = cp_path(sp, id, ""), *meta = cp_path(sp, id, ".json");
	/* A snapshot left without its .json by a crash: replaced. */
	remove_tree(snap);
	info(c, "Saving filesystem state...");
	int r = subvol_snapshot(fs, snap, 1);
	int e = errno;
	char now[32];
	now_rfc3339(now, sizeof now);
	char *source = get_source(sp);
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "create_time", now, "comment", comment,
	                      "is_auto", 0);
	if (source)
		json_object_set_new(o, "source_id", json_string(source));
	if (r == 0 && write_json_atomic(meta, o) < 0) {
		e = errno;
		remove_tree(snap);
		r = -1;
	}
	json_decref(o);
	json_decref(body);
	free(source);
	free(fs), free(snap), free(meta);
	if (r < 0)
		return fail(c, "Checkpoint failed: %s%s", strerror(e),
		            e == ENOSPC ? " (the btrfs volume is full: destroy sprites, or restart spritesd "
		                          "on a new state directory with a larger --volume-size)" : "");
	set_source(sp, id);
	return finish(c, "Checkpoint %s created", id);
}

/* Delete the tree at path without waiting: it is renamed aside and a
 * detached process removes it.  Dropping files the kernel still caches
 * costs about 0.3 s a GiB, which a restore need not wait for.  (Double
 * fork: the remover is not our child, so there is nothing to reap.) */
static void remove_tree_later(struct sprite *sp, const char *path)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char *aside = xasprintf("%s/.fs-old-%lld%09ld", sp->dir, (long long)ts.tv_sec, ts.tv_nsec);
	if (rename(path, aside) < 0) {
		remove_tree(path);
		free(aside);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (fork() == 0) {
			/* Not holding our listening socket, our clients, our pipes. */
			close_range(3, ~0U, 0);
			remove_tree(aside);
			_exit(0);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	else
		remove_tree(aside);
	free(aside);
}

static int restore(struct lws *wsi, struct conn *c, struct sprite *sp, const char *id)
{
	json_t *o = cp_load(sp, id);
	if (!o) {
		char msg[160];
		snprintf(msg, sizeof msg, "checkpoint %.20s not found in sprite \"%s\"", id, sp->name);
		return http_respond_error(wsi, c, 404, "not_found", msg);
	}
	json_decref(o);
	if (http_stream_begin(wsi, c, 200) < 0)
		return -1;
	char msg[128];
	snprintf(msg, sizeof msg, "Restoring to %s...", id);
	info(c, msg);
	char why[512];
	const char *no = unavailable(sp, why, sizeof why);
	if (no)
		return fail(c, "Restore failed: %s", no);

	/* As Fly's: the sprite's processes do not survive their files. */
	info(c, "Stopping processes...");
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&sp->sessions)) {
		session_destroy(lws_container_of(p, struct session, list));
	} lws_end_foreach_dll_safe(p, p1);
	sandbox_stop(sp);

	info(c, "Restoring filesystem state...");
	char *fs = xasprintf("%s/fs", sp->dir), *next = xasprintf("%s/.fs-restore", sp->dir);
	char *snap = cp_path(sp, id, "");
	remove_tree(next); /* left by a crash mid-restore */
	int r = subvol_snapshot(snap, next, 0);
	int e = errno;
	if (r == 0) {
		/* One atomic swap: a crash leaves either the old files or the new. */
		r = renameat2(AT_FDCWD, next, AT_FDCWD, fs, RENAME_EXCHANGE);
		if (r < 0 && errno == EINVAL) {
			char *old = xasprintf("%s/.fs-old", sp->dir);
			remove_tree(old);
			r = rename(fs, old);
			if (r == 0 && (r = rename(next, fs)) < 0)
				rename(old, fs);
			else if (r == 0)
				rename(old, next);
			free(old);
		}
		e = errno;
		/* next is now the old files (or, on failure, the unused copy). */
		remove_tree_later(sp, next);
	}
	free(fs), free(next), free(snap);
	if (r < 0)
		return fail(c, "Restore failed: %s", strerror(e));
	set_source(sp, id);
	return finish(c, "Restored to %s", id);
}

static int list(struct lws *wsi, struct conn *c, struct sprite *sp)
{
	long *nums, highest;
	size_t n = cp_numbers(sp, &nums, &highest);
	json_t *arr = json_array();
	for (size_t i = n; i-- > 0;) {
		char id[24];
		snprintf(id, sizeof id, "v%ld", nums[i]);
		json_t *o = cp_load(sp, id);
		if (o)
			json_array_append_new(arr, o);
	}
	free(nums);
	return http_respond_json(wsi, c, 200, arr);
}

int checkpoint_route(struct lws *wsi, struct conn *c, struct sprite *sp, const char *rest)
{
	const char *m = c->method;
	int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
	if (!strcmp(rest, "checkpoint")) {
		if (!post)
			return http_respond_error(wsi, c, 405, "method_not_allowed", "use POST to create a checkpoint");
		return create(wsi, c, sp);
	}
	if (!strcmp(rest, "checkpoints") || !strcmp(rest, "checkpoints/")) {
		if (!get)
			return http_respond_error(wsi, c, 405, "method_not_allowed",
			                          "use GET to list checkpoints (POST .../checkpoint creates one)");
		return list(wsi, c, sp);
	}
	if (strncmp(rest, "checkpoints/", 12))
		return http_respond_error(wsi, c, 404, "not_found", "no such endpoint");
	char id[32];
	const char *p = rest + 12, *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	snprintf(id, sizeof id, "%.*s", (int)(n < sizeof id ? n : sizeof id - 1), p);
	if (slash && strcmp(slash, "/restore"))
		return http_respond_error(wsi, c, 404, "not_found", "no such endpoint");
	if (slash) {
		if (!post)
			return http_respond_error(wsi, c, 405, "method_not_allowed", "use POST to restore a checkpoint");
		return restore(wsi, c, sp, id);
	}
	if (!get)
		return http_respond_error(wsi, c, 405, "method_not_allowed", "use GET to read a checkpoint");
	json_t *o = n < sizeof id ? cp_load(sp, id) : NULL;
	if (!o) {
		char msg[160];
		snprintf(msg, sizeof msg, "checkpoint %.20s not found in sprite \"%s\"", id, sp->name);
		return http_respond_error(wsi, c, 404, "not_found", msg);
	}
	return http_respond_json(wsi, c, 200, o);
}
