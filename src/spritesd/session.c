/* session.c: exec sessions.  A session is one process in a sprite, its
 * stdin queue, and a ring of its recent output (the scrollback) that every
 * attached client reads at its own pace.  Sessions outlive connections.
 *
 * Back-pressure: when the slowest attached client has not yet sent the
 * oldest chunk we keep and the ring is full, we stop reading the child's
 * output (it then blocks on its pipe) until that client catches up.  With no
 * client attached, old output is dropped instead, so a detached process
 * never blocks.  Memory per session is bounded by SCROLLBACK_BYTES. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define STDIN_QUEUE_MAX (256 * 1024)

void exec_request_free(struct exec_request *req)
{
	for (size_t i = 0; i < req->argc; i++)
		free(req->argv[i]);
	free(req->argv);
	for (size_t i = 0; i < req->envc; i++)
		free(req->env[i]);
	free(req->env);
	free(req->path);
	free(req->dir);
	memset(req, 0, sizeof *req);
}

static void chunk_destroy(void *el)
{
	struct chunk *c = el;
	free(c->data);
}

static struct lws_context *ctx_of(struct session *s)
{
	return s->sprite->srv->context;
}

/* ---- the output ring ---- */

static int client_holds_oldest(struct session *s)
{
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&s->clients)) {
		struct exec_conn *c = lws_container_of(p, struct exec_conn, list);
		if (c->tail == s->hist_tail)
			return 1;
	} lws_end_foreach_dll(p);
	return 0;
}

static void drop_oldest(struct session *s)
{
	const struct chunk *c = lws_ring_get_element(s->ring, &s->hist_tail);
	if (!c)
		return;
	s->ring_bytes -= c->len;
	lws_ring_consume(s->ring, &s->hist_tail, NULL, 1);
	lws_ring_update_oldest_tail(s->ring, s->hist_tail);
}

/* Make room for a chunk of up to need bytes; 0 when a lagging client must
 * catch up first.  One slot always stays free for the exit record. */
static int make_room(struct session *s, size_t need)
{
	while (lws_ring_get_count_free_elements(s->ring) < 2 ||
	       (s->ring_bytes && s->ring_bytes + need > SCROLLBACK_BYTES)) {
		if (client_holds_oldest(s))
			return 0;
		drop_oldest(s);
	}
	return 1;
}

static void ring_insert(struct session *s, uint8_t stream, const uint8_t *data, size_t len, int code)
{
	struct chunk c = { stream, NULL, len, code };
	if (len) {
		c.data = xmalloc(len);
		memcpy(c.data, data, len);
	}
	lws_ring_insert(s->ring, &c, 1);
	s->ring_bytes += len;
	exec_clients_wake(s);
}

static void set_paused(struct session *s, int paused)
{
	if (s->out_paused == paused)
		return;
	s->out_paused = paused;
	for (int i = 0; i < 2; i++)
		if (s->out_wsi[i])
			lws_rx_flow_control(s->out_wsi[i], !paused);
}

static void drain_hung_up(struct session *s);

void session_consumed(struct session *s)
{
	if (s->out_paused && make_room(s, FRAME_CHUNK)) {
		set_paused(s, 0);
		drain_hung_up(s);
	}
}

/* ---- lifecycle ---- */

static void expire_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_expire);
	session_destroy(s);
}

/* Nobody will read stdin any more: drop what waits, and let clients that
 * were held back for it be read again, so that their connections can close
 * cleanly (an unread socket would be reset, losing what it still had to
 * deliver to the client). */
static void stdin_gone(struct session *s)
{
	lws_buflist_destroy_all_segments(&s->stdin_q);
	s->stdin_eof = 1;
	exec_clients_stdin_drained(s);
}

static void detach_wsi(struct lws **w);

static void finish(struct session *s)
{
	if (s->finished)
		return;
	s->finished = 1;
	s->sprite->live_sessions--;
	s->sprite->srv->live_sessions--;
	/* Reaped, its output drained: it holds no descriptor any more, only
	 * what it printed, for a client still to attach; and the sprite keeps
	 * at most FINISHED_SESSIONS_MAX such, the oldest going first. */
	detach_wsi(&s->pid_wsi);
	unsigned finished = 0;
	struct session *oldest = NULL;
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&s->sprite->sessions)) {
		struct session *o = lws_container_of(p, struct session, list);
		if (o->finished) {
			finished++;
			if (!oldest && o != s && !o->clients.count)
				oldest = o;
		}
	} lws_end_foreach_dll(p);
	if (finished > FINISHED_SESSIONS_MAX && oldest) /* from the loop: no caller is walking the list */
		lws_sul_schedule(ctx_of(oldest), 0, &oldest->sul_expire, expire_cb, 1);
	if (s->in_wsi && !s->tty)
		lws_set_timeout(s->in_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	stdin_gone(s);
	ring_insert(s, STREAM_EXIT, NULL, 0, s->exit_code);
	kill_requests_finish(s);
	lws_sul_schedule(ctx_of(s), 0, &s->sul_expire, expire_cb,
	                 (lws_usec_t)FINISHED_SESSION_TTL_MS * LWS_US_PER_MS);
}

static void linger_cb(lws_sorted_usec_list_t *sul);

/* The exit goes out once the process is reaped and its output drained.
 * Pipes still held open by background jobs are given EXIT_LINGER_MS. */
static void check_finish(struct session *s)
{
	if (!s->exited || s->finished)
		return;
	if (s->out_fd[0] >= 0 || s->out_fd[1] >= 0) {
		lws_sul_schedule(ctx_of(s), 0, &s->sul_linger, linger_cb,
		                 (lws_usec_t)EXIT_LINGER_MS * LWS_US_PER_MS);
		return;
	}
	finish(s);
}

static void detach_wsi(struct lws **w)
{
	if (*w) {
		lws_set_opaque_user_data(*w, NULL);
		lws_set_timeout(*w, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		*w = NULL;
	}
}

/* Output i is over: EOF, or only background jobs still hold it open. */
static void output_done(struct session *s, int i)
{
	if (s->out_wsi[i] && s->in_wsi == s->out_wsi[i])
		s->in_wsi = NULL;
	detach_wsi(&s->out_wsi[i]);
	if (s->out_fd[i] >= 0)
		close(s->out_fd[i]);
	s->out_fd[i] = -1;
	check_finish(s);
}

/* Move output i into the ring, at most max chunks, while there is room.
 * Returns 1 at EOF (EIO too: a pty master once the last slave closed), else
 * 0, with *empty set when nothing was there to read. */
static int pump(struct session *s, int i, int max, int *empty)
{
	struct server *srv = s->sprite->srv;
	*empty = 0;
	while (max-- > 0) {
		if (!make_room(s, FRAME_CHUNK)) {
			set_paused(s, 1);
			return 0;
		}
		ssize_t n = read(s->out_fd[i], srv->scratch, FRAME_CHUNK);
		if (n > 0) {
			s->bytes_out += (uint64_t)n;
			s->last_activity_ms = now_ms();
			ring_insert(s, i == 0 ? STREAM_STDOUT : STREAM_STDERR, srv->scratch, (size_t)n, 0);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			*empty = 1;
			return 0;
		}
		return 1;
	}
	return 0;
}

/* An output whose watcher lws closed on a hang-up still has what the child
 * wrote before it went: read it as the clients make room. */
static void drain_hung_up(struct session *s)
{
	for (int i = 0; i < 2; i++) {
		int empty;
		if (!s->out_wsi[i] && s->out_fd[i] >= 0 && !s->out_paused &&
		    (pump(s, i, INT_MAX, &empty) || empty))
			output_done(s, i);
	}
}

static void linger_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_linger);
	for (int i = 0; i < 2; i++) {
		int empty;
		if (s->out_fd[i] < 0)
			continue;
		if (pump(s, i, INT_MAX, &empty) || empty) {
			/* EOF, or drained: what is left open belongs to background jobs. */
			output_done(s, i);
		}
		/* Paused: try again once the clients catch up. */
	}
	check_finish(s);
}

static void reap(struct session *s)
{
	int st;
	pid_t r = waitpid(s->pid, &st, WNOHANG);
	if (r != s->pid)
		return;
	s->exited = 1;
	if (WIFEXITED(st))
		s->exit_code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		s->exit_code = 128 + WTERMSIG(st);
	else
		s->exit_code = 255;
}

static void orphan_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_orphan);
	if (!s->exited && !s->clients.count) {
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
	}
}

void session_client_attached(struct session *s)
{
	lws_sul_cancel(&s->sul_orphan);
}

void session_client_detached(struct session *s)
{
	if (s->clients.count)
		return;
	s->sprite->last_active_ms = now_ms();
	if (s->finished && s->exit_delivered)
		lws_sul_schedule(ctx_of(s), 0, &s->sul_expire, expire_cb,
		                 (lws_usec_t)DELIVERED_SESSION_TTL_MS * LWS_US_PER_MS);
	if (!s->exited && !s->tty && s->max_run_after_disconnect_ms > 0)
		lws_sul_schedule(ctx_of(s), 0, &s->sul_orphan, orphan_cb,
		                 (lws_usec_t)s->max_run_after_disconnect_ms * LWS_US_PER_MS);
	session_consumed(s); /* a lagging client may have gone */
}

void session_destroy(struct session *s)
{
	if (!s->finished) {
		s->sprite->live_sessions--;
		s->sprite->srv->live_sessions--;
	}
	exec_clients_close(s);
	kill_requests_finish(s);
	if (!s->exited) {
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (s->in_wsi == s->out_wsi[0])
		s->in_wsi = NULL;
	detach_wsi(&s->out_wsi[0]);
	detach_wsi(&s->out_wsi[1]);
	detach_wsi(&s->in_wsi);
	detach_wsi(&s->pid_wsi);
	lws_sul_cancel(&s->sul_linger);
	lws_sul_cancel(&s->sul_stdin);
	lws_sul_cancel(&s->sul_orphan);
	lws_sul_cancel(&s->sul_expire);
	session_forget(s);
}

void session_forget(struct session *s)
{
	for (int i = 0; i < 2; i++)
		if (s->out_fd[i] >= 0)
			close(s->out_fd[i]);
	lws_buflist_destroy_all_segments(&s->stdin_q);
	lws_dll2_remove(&s->list);
	if (s->ring)
		lws_ring_destroy(s->ring);
	free(s->command);
	free(s->workdir);
	free(s);
}

struct session *session_find(struct sprite *sp, const char *id)
{
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&sp->sessions)) {
		struct session *s = lws_container_of(p, struct session, list);
		if (!strcmp(s->id, id))
			return s;
	} lws_end_foreach_dll(p);
	return NULL;
}

/* ---- input ---- */

void session_stdin(struct session *s, const uint8_t *buf, size_t len)
{
	if (!s->in_wsi || s->stdin_eof || !len)
		return;
	if (lws_buflist_append_segment(&s->stdin_q, buf, len) < 0)
		return;
	lws_callback_on_writable(s->in_wsi);
}

void session_stdin_eof(struct session *s)
{
	if (!s->in_wsi || s->tty)
		return;
	s->stdin_eof = 1;
	lws_callback_on_writable(s->in_wsi);
}

int session_stdin_full(struct session *s)
{
	return lws_buflist_total_len(&s->stdin_q) > STDIN_QUEUE_MAX;
}

void session_resize(struct session *s, int cols, int rows)
{
	if (!s->tty || cols <= 0 || rows <= 0 || s->out_fd[0] < 0)
		return;
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	ioctl(s->out_fd[0], TIOCSWINSZ, &ws);
	s->cols = cols;
	s->rows = rows;
}

int session_signal(struct session *s, int signo)
{
	if (s->exited)
		return -1;
	/* The whole process group, as a terminal would. */
	if (kill(-s->pid, signo) < 0)
		return kill(s->pid, signo);
	return 0;
}

static void stdin_again_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_stdin);
	if (s->in_wsi)
		lws_callback_on_writable(s->in_wsi);
}

/* Write queued stdin to the child; -1 closes the pipe. */
static int write_stdin(struct session *s)
{
	int fd = lws_get_socket_fd(s->in_wsi);
	uint8_t *buf;
	size_t len;
	while ((len = lws_buflist_next_segment_len(&s->stdin_q, &buf))) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* lws clears POLLOUT after this callback returns, so ask
			 * for it again from a timer rather than from here. */
			lws_sul_schedule(ctx_of(s), 0, &s->sul_stdin, stdin_again_cb, 1);
			break;
		}
		if (n < 0) {
			/* The child closed its stdin: what it did not read is dropped. */
			lws_buflist_destroy_all_segments(&s->stdin_q);
			return s->tty ? 0 : -1;
		}
		lws_buflist_use_segment(&s->stdin_q, (size_t)n);
	}
	exec_clients_stdin_drained(s);
	if (!lws_buflist_total_len(&s->stdin_q) && s->stdin_eof && !s->tty)
		return -1;
	return 0;
}

/* ---- the fd protocol: pipes, pty and pidfd of sessions ---- */

int fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user, (void)in, (void)len;
	struct session *s = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!s)
			return -1;
		if (wsi == s->pid_wsi) {
			reap(s);
			if (!s->exited)
				return 0;
			s->pid_wsi = NULL;
			lws_set_opaque_user_data(wsi, NULL);
			check_finish(s);
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			int empty;
			if (wsi == s->out_wsi[i] && pump(s, i, 1, &empty))
				output_done(s, i);
		}
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!s)
			return 0;
		if (wsi == s->in_wsi && write_stdin(s) < 0) {
			s->in_wsi = NULL;
			lws_set_opaque_user_data(wsi, NULL);
			stdin_gone(s);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (!s)
			return 0;
		/* Closed under us (a hang-up on the pipe): forget it. */
		if (wsi == s->in_wsi) {
			s->in_wsi = NULL;
			stdin_gone(s);
		}
		/* lws closes a watcher on a hang-up even when we had paused
		 * it: the output fd itself is still ours to drain. */
		for (int i = 0; i < 2; i++)
			if (wsi == s->out_wsi[i]) {
				s->out_wsi[i] = NULL;
				drain_hung_up(s);
			}
		if (wsi == s->pid_wsi) {
			s->pid_wsi = NULL;
			reap(s);
			check_finish(s);
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- starting ---- */

static char *join_argv(char **argv)
{
	size_t len = 1;
	for (char **a = argv; *a; a++)
		len += strlen(*a) + 1;
	char *s = xmalloc(len), *p = s;
	for (char **a = argv; *a; a++)
		p += sprintf(p, "%s%s", a == argv ? "" : " ", *a);
	*p = '\0';
	return s;
}

/* The default environment, with the request's K=V entries replacing or
 * adding variables (PATH and HOME survive unless replaced). */
static char **build_env(struct sprite *sp, const struct exec_request *req)
{
	size_t cap = 16 + PROXY_ENV_MAX + req->envc, n = 0;
	char **env = xcalloc(cap, sizeof *env);
	env[n++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[n++] = xstrdup("HOME=/home/sprite");
	env[n++] = xstrdup("USER=sprite");
	env[n++] = xstrdup("LOGNAME=sprite");
	env[n++] = xstrdup("SHELL=/bin/bash");
	env[n++] = xstrdup("LANG=C.UTF-8");
	env[n++] = xasprintf("SPRITE_NAME=%s", sp->name);
	if (req->tty)
		env[n++] = xstrdup("TERM=xterm-256color");
	n += proxy_env(env + n); /* the sprite's only way out (proxy.c) */
	for (size_t i = 0; i < req->envc; i++) {
		const char *eq = strchr(req->env[i], '=');
		if (!eq || eq == req->env[i])
			continue;
		size_t klen = (size_t)(eq - req->env[i]) + 1;
		size_t j;
		for (j = 0; j < n; j++)
			if (!strncmp(env[j], req->env[i], klen))
				break;
		if (j < n)
			free(env[j]);
		else
			n++;
		env[j] = xstrdup(req->env[i]);
	}
	env[n] = NULL;
	return env;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static struct lws *adopt(struct session *s, int fd)
{
	if (fd < 0)
		return NULL;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	lws_sock_file_fd_type fdt = { .filefd = fd };
	struct lws *w = lws_adopt_descriptor_vhost(s->sprite->srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
	                                           "sprite-fd", NULL);
	if (!w) {
		close(fd);
		return NULL;
	}
	lws_set_opaque_user_data(w, s);
	return w;
}

static int open_pty(struct sprite *sp, int rows, int cols, int *master, int *slave)
{
	/* The sandbox's own devpts, so the command's tty has a name inside. */
	char ptmx[64];
	snprintf(ptmx, sizeof ptmx, "/proc/%d/root/dev/ptmx", (int)sp->sb.init_pid);
	*master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -1;
	int unlock = 0;
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) {
		close(*master);
		return -1;
	}
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		close(*master);
		return -1;
	}
	struct winsize ws = { .ws_row = (unsigned short)(rows > 0 ? rows : 24),
	                      .ws_col = (unsigned short)(cols > 0 ? cols : 80) };
	ioctl(*slave, TIOCSWINSZ, &ws);
	return 0;
}

/* Sessions whose command runs or whose output is still coming each hold
 * descriptors (main.c, fd_budget). */
int session_room(struct sprite *sp, char *err, size_t errlen)
{
	struct server *srv = sp->srv;
	unsigned mine = sp->live_sessions;
	if (mine < srv->fds.sessions_sprite && srv->live_sessions < srv->fds.sessions_total)
		return 0;
	snprintf(err, errlen, "too many commands running: %u in sprite \"%s\", %u in all (at most %u and %u): "
	         "wait for some to end, or kill them (sprite-sessions --kill)", mine, sp->name,
	         srv->live_sessions, srv->fds.sessions_sprite, srv->fds.sessions_total);
	return -1;
}

struct session *session_start(struct sprite *sp, struct exec_request *req, char *err, size_t errlen)
{
	if (session_room(sp, err, errlen) < 0 || sandbox_ensure(sp, err, errlen) < 0)
		return NULL;
	if (!req->argc) {
		/* No cmd: run path, or bash (the API's default). */
		req->argv = xrealloc(req->argv, 2 * sizeof *req->argv);
		req->argv[0] = xstrdup(req->path ? req->path : "bash");
		req->argv[1] = NULL;
		req->argc = 1;
	}
	const char *path = req->path && *req->path ? req->path : req->argv[0];

	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, master = -1, slave = -1;
	int ok;
	if (req->tty) {
		ok = open_pty(sp, req->rows, req->cols, &master, &slave) == 0;
	} else {
		ok = pipe2(out, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0;
		if (ok && req->stdin_enabled)
			ok = pipe2(in, O_CLOEXEC) == 0;
		else if (ok)
			ok = (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
	}
	if (!ok) {
		snprintf(err, errlen, "cannot make the command's pipes: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0) close(in[i]);
			if (out[i] >= 0) close(out[i]);
			if (errp[i] >= 0) close(errp[i]);
		}
		return NULL;
	}

	char **env = build_env(sp, req);
	struct spawn_req sr = {
		.path = path, .argv = req->argv, .envp = env,
		.dir = req->dir && *req->dir ? req->dir : "/home/sprite",
		.fd_in = req->tty ? slave : in[0],
		.fd_out = req->tty ? slave : out[1],
		.fd_err = req->tty ? slave : errp[1],
		.tty = req->tty,
	};
	pid_t pid = sandbox_spawn(sp, &sr, err, errlen);
	free_strv(env);
	if (req->tty) {
		close(slave);
	} else {
		close(in[0]);
		close(out[1]);
		close(errp[1]);
	}
	if (pid < 0) {
		if (req->tty)
			close(master);
		else {
			if (in[1] >= 0) close(in[1]);
			close(out[0]);
			close(errp[0]);
		}
		return NULL;
	}

	struct session *s = xcalloc(1, sizeof *s);
	s->out_fd[0] = s->out_fd[1] = -1;
	s->sprite = sp;
	s->pid = pid;
	snprintf(s->id, sizeof s->id, "%d", (int)pid);
	/* Shown in JSON (session_info, the sessions list): UTF-8 only. */
	char *joined = join_argv(req->argv);
	s->command = utf8_lossy(joined);
	free(joined);
	s->workdir = utf8_lossy(sr.dir);
	s->tty = req->tty;
	s->rows = req->tty ? (req->rows > 0 ? req->rows : 24) : 0;
	s->cols = req->tty ? (req->cols > 0 ? req->cols : 80) : 0;
	s->created = time(NULL);
	s->last_activity_ms = now_ms();
	s->max_run_after_disconnect_ms = req->max_run_after_disconnect_ms;
	s->ring = lws_ring_create(sizeof(struct chunk), SCROLLBACK_CHUNKS, chunk_destroy);
	s->hist_tail = lws_ring_get_oldest_tail(s->ring);
	lws_dll2_add_tail(&s->list, &sp->sessions);
	sp->live_sessions++;
	sp->srv->live_sessions++;

	/* Each output is read from our own fd; lws watches a duplicate, which
	 * it may close on a hang-up while output is still buffered. */
	s->out_fd[0] = req->tty ? master : out[0];
	s->out_fd[1] = req->tty ? -1 : errp[0];
	for (int i = 0; i < 2; i++) {
		if (s->out_fd[i] < 0)
			continue;
		fcntl(s->out_fd[i], F_SETFL, fcntl(s->out_fd[i], F_GETFL) | O_NONBLOCK);
		s->out_wsi[i] = adopt(s, fcntl(s->out_fd[i], F_DUPFD_CLOEXEC, 3));
	}
	if (req->tty)
		s->in_wsi = s->out_wsi[0];
	else if (in[1] >= 0)
		s->in_wsi = adopt(s, in[1]);
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		lws_sock_file_fd_type fdt = { .filefd = pfd };
		s->pid_wsi = lws_adopt_descriptor_vhost(sp->srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
		                                        "sprite-fd", NULL);
		if (s->pid_wsi)
			lws_set_opaque_user_data(s->pid_wsi, s);
		else
			close(pfd);
	}
	if (!s->out_wsi[0] || (!req->tty && !s->out_wsi[1]) || !s->pid_wsi) {
		snprintf(err, errlen, "cannot watch the command's output");
		session_destroy(s);
		return NULL;
	}
	return s;
}

static void rfc3339(char *buf, size_t len, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *session_json(struct session *s)
{
	char created[32], last[32];
	rfc3339(created, sizeof created, s->created);
	time_t last_t = time(NULL) - (time_t)((now_ms() - s->last_activity_ms) / 1000);
	rfc3339(last, sizeof last, last_t);
	double age = difftime(time(NULL), s->created);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f, s:b, s:s, s:b}",
	                      "id", s->id, "command", s->command, "workdir", s->workdir,
	                      "created", created,
	                      "bytes_per_second", age > 0 ? (double)s->bytes_out / age : 0.0,
	                      "is_active", !s->finished, "last_activity", last, "tty", s->tty);
	if (s->finished)
		json_object_set_new(o, "exit_code", json_integer(s->exit_code));
	return o;
}
