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
 * deleted afterwards by a detached process.
 *
 * A sprite's creates and restores run one at a time, in the order asked: a
 * restore must not swap the files out from under a snapshot being taken,
 * and ids are given in order.  A create's snapshot is taken by a child
 * process: btrfs first writes out what the sprite wrote and the kernel has
 * not yet (seconds after a GiB), which spritesd's event loop must not wait
 * for.  Its exit status is the errno; its end, EOF on a pipe the loop
 * watches.  A client that goes away does not stop its request. */
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

struct cp_req {
	lws_dll2_t list;       /* in sprite->cp_queue; the head is the one running */
	struct sprite *sp;
	struct conn *conn;     /* NULL once the client has gone */
	int restore;
	char id[24];           /* a restore's checkpoint; the one a create makes */
	char *comment;
	pid_t pid;             /* the process taking a create's snapshot, or 0 */
	struct lws *pipe_wsi;  /* its end: EOF on this pipe */
};

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

/* The helpers below write nothing once the client has gone (c NULL). */
static void info(struct conn *c, const char *text)
{
	if (c)
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
	if (c) {
		http_stream_line(c, event("error", "error", msg));
		http_stream_end(c);
	}
	return 0;
}

static int finish(struct conn *c, const char *fmt, const char *id)
{
	char msg[128];
	snprintf(msg, sizeof msg, fmt, id);
	if (c) {
		http_stream_line(c, event("complete", "data", msg));
		http_stream_end(c);
	}
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

/* ---- the queue ---- */

static void run_queue(struct sprite *sp);

static void req_free(struct cp_req *r)
{
	lws_dll2_remove(&r->list);
	if (r->conn)
		r->conn->cp_req = NULL;
	free(r->comment);
	free(r);
}

/* Queue a request (its stream begun) and run what can run. */
static int enqueue(struct conn *c, struct sprite *sp, int restore, const char *id, const char *comment)
{
	struct cp_req *r = xcalloc(1, sizeof *r);
	r->sp = sp;
	r->conn = c;
	r->restore = restore;
	snprintf(r->id, sizeof r->id, "%s", id);
	r->comment = xstrdup(comment);
	c->cp_req = r;
	if (lws_dll2_get_head(&sp->cp_queue))
		info(c, "Waiting for the checkpoint operation before it...");
	lws_dll2_add_tail(&r->list, &sp->cp_queue);
	run_queue(sp);
	return 0;
}

void checkpoint_request_closed(struct conn *c)
{
	if (c->cp_req)
		c->cp_req->conn = NULL;
	c->cp_req = NULL;
}

/* ---- create ---- */

/* The snapshot is taken (e == 0) or not (errno e): its API object, then
 * the stream's end. */
static void create_done(struct cp_req *r, int e)
{
	struct sprite *sp = r->sp;
	char *snap = cp_path(sp, r->id, ""), *meta = cp_path(sp, r->id, ".json");
	char now[32];
	now_rfc3339(now, sizeof now);
	char *source = get_source(sp);
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "id", r->id, "create_time", now, "comment", r->comment,
	                      "is_auto", 0);
	if (source)
		json_object_set_new(o, "source_id", json_string(source));
	if (e == 0 && write_json_atomic(meta, o) < 0) {
		e = errno;
		remove_tree(snap);
	}
	json_decref(o);
	free(source);
	free(snap), free(meta);
	if (e) {
		fail(r->conn, "Checkpoint failed: %s%s", strerror(e),
		     e == ENOSPC ? " (the btrfs volume is full: destroy sprites, or restart spritesd "
		                   "on a new state directory with a larger --volume-size)" : "");
		return;
	}
	set_source(sp, r->id);
	finish(r->conn, "Checkpoint %s created", r->id);
}

/* The snapshot's process has ended (or is ending): its errno. */
static int snapshot_result(struct cp_req *r)
{
	int status;
	pid_t w;
	while ((w = waitpid(r->pid, &status, 0)) < 0 && errno == EINTR)
		;
	r->pid = 0;
	if (w < 0 || !WIFEXITED(status))
		return EIO;
	return WEXITSTATUS(status);
}

/* Start a create: 1 when its snapshot's process runs, 0 when it is over
 * (failed, and said so). */
static int create_start(struct cp_req *r)
{
	struct sprite *sp = r->sp;
	struct conn *c = r->conn;
	char why[512];
	const char *no = unavailable(sp, why, sizeof why);
	if (no)
		return fail(c, "Checkpoint failed: %s", no);
	char *dir = xasprintf("%s/checkpoints", sp->dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		free(dir);
		return fail(c, "Checkpoint failed: cannot create %s/checkpoints: %s", sp->dir, strerror(e));
	}
	free(dir);
	long *nums, highest;
	cp_numbers(sp, &nums, &highest);
	free(nums);
	snprintf(r->id, sizeof r->id, "v%ld", highest + 1);
	if (id_number(r->id) < 0)
		return fail(c, "Checkpoint failed: sprite \"%s\" has used every checkpoint id", sp->name);
	char *fs = xasprintf("%s/fs", sp->dir), *snap = cp_path(sp, r->id, "");
	/* A snapshot left without its .json by a crash: replaced. */
	remove_tree(snap);
	info(c, "Saving filesystem state...");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		free(fs), free(snap);
		return fail(c, "Checkpoint failed: pipe: %s", strerror(e));
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Holding none of our sockets (a client's connection must close
		 * when we close it), only the pipe's write end, as fd 3. */
		if (dup2(p[1], 3) < 0)
			_exit(EIO);
		close_range(4, ~0U, 0);
		_exit(subvol_snapshot(fs, snap, 1) < 0 ? errno : 0);
	}
	int e = errno;
	close(p[1]);
	free(fs), free(snap);
	if (pid < 0) {
		close(p[0]);
		return fail(c, "Checkpoint failed: fork: %s", strerror(e));
	}
	r->pid = pid;
	lws_sock_file_fd_type fdt = { .filefd = p[0] };
	r->pipe_wsi = lws_adopt_descriptor_vhost(sp->srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
	                                         "sprite-checkpoint", NULL);
	if (!r->pipe_wsi) {
		/* Cannot watch it: wait here instead. */
		close(p[0]);
		create_done(r, snapshot_result(r));
		return 0;
	}
	lws_set_opaque_user_data(r->pipe_wsi, r);
	return 1;
}

int checkpoint_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user, (void)in, (void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE && reason != LWS_CALLBACK_RAW_CLOSE_FILE)
		return 0;
	/* EOF, or the hang-up lws reports as a close: the process has ended. */
	struct cp_req *r = lws_get_opaque_user_data(wsi);
	lws_set_opaque_user_data(wsi, NULL);
	if (!r)
		return reason == LWS_CALLBACK_RAW_RX_FILE ? -1 : 0;
	r->pipe_wsi = NULL;
	struct sprite *sp = r->sp;
	create_done(r, snapshot_result(r));
	req_free(r);
	if (!sp->srv->stopping)
		run_queue(sp);
	return reason == LWS_CALLBACK_RAW_RX_FILE ? -1 : 0;
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
	int r = http_stream_begin(wsi, c, 200);
	if (r == 0) {
		info(c, "Creating checkpoint...");
		r = enqueue(c, sp, 0, "", comment);
	}
	json_decref(body);
	return r;
}

/* ---- restore ---- */

static void restore_run(struct cp_req *r)
{
	struct sprite *sp = r->sp;
	struct conn *c = r->conn;
	char why[512];
	const char *no = unavailable(sp, why, sizeof why);
	if (no) {
		fail(c, "Restore failed: %s", no);
		return;
	}

	/* As Fly's: the sprite's processes do not survive their files. */
	info(c, "Stopping processes...");
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&sp->sessions)) {
		session_destroy(lws_container_of(p, struct session, list));
	} lws_end_foreach_dll_safe(p, p1);
	sandbox_stop(sp);

	info(c, "Restoring filesystem state...");
	char *fs = xasprintf("%s/fs", sp->dir), *next = xasprintf("%s/.fs-restore", sp->dir);
	char *snap = cp_path(sp, r->id, "");
	remove_tree(next); /* left by a crash mid-restore */
	int rc = subvol_snapshot(snap, next, 0);
	int e = errno;
	if (rc == 0) {
		/* One atomic swap: a crash leaves either the old files or the new. */
		rc = renameat2(AT_FDCWD, next, AT_FDCWD, fs, RENAME_EXCHANGE);
		if (rc < 0 && errno == EINVAL) {
			char *old = xasprintf("%s/.fs-old", sp->dir);
			remove_tree(old);
			rc = rename(fs, old);
			if (rc == 0 && (rc = rename(next, fs)) < 0)
				rename(old, fs);
			else if (rc == 0)
				rename(old, next);
			free(old);
		}
		e = errno;
		/* next is now the old files (or, on failure, the unused copy). */
		remove_tree_later(sp, next);
	}
	free(fs), free(next), free(snap);
	if (rc < 0) {
		fail(c, "Restore failed: %s", strerror(e));
		return;
	}
	set_source(sp, r->id);
	finish(c, "Restored to %s", r->id);
}

/* Run the queue's head, and the rest as each ends, until a snapshot's
 * process is running or nothing is left. */
static void run_queue(struct sprite *sp)
{
	struct lws_dll2 *head;
	while ((head = lws_dll2_get_head(&sp->cp_queue))) {
		struct cp_req *r = lws_container_of(head, struct cp_req, list);
		if (r->pid)
			return;
		if (r->restore)
			restore_run(r);
		else if (create_start(r))
			return;
		req_free(r);
	}
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
	return enqueue(c, sp, 1, id, "");
}

void checkpoint_sprite_gone(struct sprite *sp, int destroyed)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&sp->cp_queue)) {
		struct cp_req *r = lws_container_of(p, struct cp_req, list);
		if (r->pipe_wsi && sp->srv->context) {
			/* Its EOF will find nothing to do.  (With the context gone,
			 * so is the pipe's wsi.) */
			lws_set_opaque_user_data(r->pipe_wsi, NULL);
			r->pipe_wsi = NULL;
		}
		int running = r->pid != 0;
		int e = running ? snapshot_result(r) : 0;
		if (running && !destroyed)
			create_done(r, e); /* its snapshot was being taken: it stands */
		else if (destroyed)
			fail(r->conn, "%s failed: sprite \"%s\" was destroyed", r->restore ? "Restore" : "Checkpoint",
			     sp->name);
		else
			fail(r->conn, "%s failed: spritesd is stopping", r->restore ? "Restore" : "Checkpoint");
		req_free(r);
	} lws_end_foreach_dll_safe(p, p1);
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
