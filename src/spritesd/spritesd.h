/* spritesd.h: the local Sprites server's shared types.
 *
 * One lws context serves HTTP (REST) and WebSocket (exec) on one port; child
 * processes' pipes and pidfds join the same event loop as raw-file wsis, so
 * one thread serves sockets and processes alike.  The pieces:
 *   main.c     options, state directory, the lws context, signals
 *   http.c     the REST routes
 *   exec_ws.c  the exec WebSocket protocol (one connection = one client)
 *   session.c  exec sessions: a process, its output scrollback, its clients
 *   sandbox.c  a sprite's bubblewrap sandbox, and spawning into it;
 *              launch.c starts it, init.c is its pid 1; userns.c, cgroup.c,
 *              limits.c and seccomp.c confine it
 *   store.c    the sprite registry on disk
 *   checkpoint.c  checkpoints; volume.c, subvol.c  the btrfs they need
 *   policy.c   network policies: parsing, presets, matching (pure)
 *   netpolicy.c  a sprite's policy: on disk, in the sandbox, over the API
 *   proxy.c    the HTTP proxy that is a sprite's only way out; proxyreq.c
 *              parses its requests, netns.c listens inside the sandbox
 *   resolve.c  name lookups off the event loop; private addresses */
#ifndef SPRITESD_H
#define SPRITESD_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "frame.h"

#define SPRITESD_VERSION "v0.0.1"       /* release channel: SDKs use /exec/{id} attach */
#define SPRITESD_DEFAULT_PORT 7321
#define SCROLLBACK_BYTES (256 * 1024)  /* output kept per session for attachers */
#define SCROLLBACK_CHUNKS 512           /* ring slots per session */
#define REQUEST_BODY_MAX (1024 * 1024)  /* largest JSON request body */
#define FINISHED_SESSION_TTL_MS (5 * 60 * 1000) /* a finished session's exit stays attachable */
#define DELIVERED_SESSION_TTL_MS 1000   /* ... but only briefly once a client has received it */
#define FINISHED_SESSIONS_MAX 256       /* finished sessions a sprite keeps (their output is memory) */
#define IDLE_TIMEOUT_DEFAULT_S 30       /* as Fly's sprites pause after ~30 s idle */
#define CLOSE_LINGER_MS 10000          /* after our close frame, how long the client has to close */
#define EXIT_LINGER_MS 50               /* after exit, wait this long for pipes held by background jobs */

struct server;
struct sprite;
struct session;

/* Namespaces of a sandbox, in the order an exec joins them (user first). */
enum { NS_USER, NS_IPC, NS_UTS, NS_NET, NS_PID, NS_MNT, NS_CGROUP, NS_COUNT };

/* A sprite's sandbox: a bwrap process tree whose pid 1 is init_pid. */
struct sandbox {
	pid_t init_pid;           /* the sandbox's pid 1, as the host sees it */
	unsigned long long start_time; /* init_pid's start time (guards against pid reuse) */
	struct lws *pidfd_wsi;    /* readable when init_pid exits */
	int ns_fds[NS_COUNT];     /* user, ipc, uts, net, pid, mnt, cgroup (-1: same as ours) */
	int root_fd;              /* /proc/<init_pid>/root */
	struct proxy *proxy;      /* proxy.c: its egress proxy, while it runs */
};

/* The host ids a sprite's user namespace maps its 0..count-1 to (userns.c). */
struct sprite_ids {
	uid_t uid;
	gid_t gid;
	unsigned count;           /* 0: not known yet */
};

/* What a sprite may use (limits.c): spritesd's defaults, or its own. */
struct limits {
	long long memory;         /* bytes, tmpfs included */
	long long disk;           /* bytes of its files (0: unlimited) */
	long long pids;           /* processes and threads */
	double cpus;              /* CPU time in CPUs' worth (0: no cap, a fair share) */
};

enum { CG_MAX = 3 };          /* v1: memory, pids, cpu; v2 uses [0] */
struct cgroups {
	int version;              /* 1, 2; 0: none usable */
	char *dir[CG_MAX];        /* spritesd's: .../spritesd-HASH in each hierarchy */
};

struct sprite {
	lws_dll2_t list;          /* in server->sprites */
	struct server *srv;
	char name[64];
	char *dir;                /* STATEDIR/sprites/NAME */
	json_t *meta;             /* the persisted sprite object */
	struct sandbox sb;        /* init_pid == 0 when cold */
	lws_dll2_owner_t sessions;
	unsigned live_sessions;   /* of them, those not finished (server's live_sessions too) */
	long long last_active_ms; /* last time it had a session */
	struct policy *policy;    /* netpolicy.c: its network policy, loaded on first use */
	lws_dll2_owner_t cp_queue; /* checkpoint.c: creates and restores, one at a time */
	struct sprite_ids ids;    /* userns.c */
	int cg_procs[CG_MAX];     /* cgroup.c: its cgroup.procs files, open (-1: not) */
};

struct server {
	struct lws_context *context;
	struct lws_vhost *vhost;
	char *statedir;
	char *token;
	char *base_url;
	int lock_fd;
	lws_dll2_owner_t sprites;
	int stopping;
	int port;                 /* the port we listen on */
	int log_requests;
	long long idle_timeout_ms;     /* a sprite with nothing running goes cold after this */
	lws_sorted_usec_list_t sul_idle;
	uint8_t *scratch;         /* LWS_PRE + 1 + FRAME_CHUNK: read and send buffer */
	size_t scratch_len;
	json_t *resolve;          /* --resolve HOST=IP (tests): {host: ip}, or NULL */
	/* checkpoints (volume.c): STATEDIR/sprites is on btrfs, or why not */
	int sprites_btrfs;
	char *no_checkpoints;     /* NULL when checkpoints can be made */
	/* confinement (sandbox.c): why sprites cannot start here, or NULL */
	char *no_sandboxes;
	char *no_disk_limits;     /* why --max-disk cannot be held to, or NULL */
	struct cgroups cg;
	struct limits limits;     /* the defaults: --max-memory, --max-disk, --max-pids */
	struct sprite_filter *filter; /* seccomp.c */
	char **shares;            /* --share: host paths shown read-only in sprites (NULL-terminated) */
	char *ids_dir;            /* --ids-dir: the host's record of id ranges (idreg.c) */
	lws_dll2_owner_t sniffs;  /* connections whose head is still coming (listen.c) */
	/* The descriptor budget (main.c, fd_budget): what sprites may hold, so
	 * that the API always has descriptors left.  Sessions count while their
	 * command runs or its output drains; tunnels while open. */
	struct {
		struct rlimit inherited;  /* as spritesd was started: its children's */
		unsigned tunnels_sprite, tunnels_total, sessions_sprite, sessions_total;
	} fds;
	unsigned live_tunnels, live_sessions;
};

/* ---- store.c ---- */
/* Write path whole or not at all (a temporary file renamed over it): a
 * reader, or a crash, sees the old contents or the new.  0 or -1 (errno). */
int write_file_atomic(const char *path, const char *data, mode_t mode);
/* The same with doc as one compact JSON line, mode 0644. */
int write_json_atomic(const char *path, json_t *doc);
int store_load(struct server *srv);
struct sprite *store_find(struct server *srv, const char *name);
/* Create a sprite; on failure returns NULL with *status/err set. */
struct sprite *store_create(struct server *srv, const char *name, json_t *request,
                            int *status, char *err, size_t errlen);
int store_destroy(struct sprite *sp);
int store_save(struct sprite *sp);
/* The sprite object as the API returns it (new reference). */
json_t *sprite_json(struct sprite *sp);
const char *sprite_status(struct sprite *sp);
void store_free_all(struct server *srv);
/* Remove a directory tree (files created inside sandboxes included). */
int remove_tree(const char *path);

/* ---- init.c ---- */
#define SPRITE_INIT "/.sprite/init"   /* spritesd itself, bound into the sandbox */
#define SPRITE_INIT_ARG "--sprite-init"
#define SPRITE_INIT_READY_FD 4        /* where it says "ready" */
/* A sandbox's pid 1; never returns. */
int sprite_init(void);

/* ---- userns.c ---- */
/* The sprite's host ids: loaded, or picked and saved.  -1 with err. */
int userns_ids(struct sprite *sp, char *err, size_t errlen);
/* A new user namespace mapping the sprite's ids: its fd, or -1 with err. */
int userns_create(const struct sprite *sp, char *err, size_t errlen);
/* In a child: join the namespace and become its root, with no
 * supplementary group (ranged: a root spritesd's, where setgroups must
 * work).  Plain syscalls. */
int userns_enter(int fd, int ranged);
/* Give the sprite's files (fs/) to its ids if they are another's. */
int userns_own_files(const struct sprite *sp, char *err, size_t errlen);

/* ---- idreg.c ---- */
/* Hold the record's lock: a descriptor, or -1 with errno. */
int idreg_lock(const char *dir);
void idreg_unlock(int lfd);
/* With the lock held, claim the range at base for the sprite directory
 * owner, host-wide: 1 claimed (or already its), 0 another sprite's, -1
 * with errno. */
int idreg_claim(const char *dir, uid_t base, const char *owner);
/* Give it back, if it is owner's (before owner is removed). */
void idreg_release(const char *dir, uid_t base, const char *owner);

/* ---- cgroup.c ---- */
/* Find the hierarchies and make spritesd's cgroup; -1 with err. */
int cgroup_setup(struct server *srv, char *err, size_t errlen);
void cgroup_free(struct server *srv);
/* Make the sprite's cgroup, set its limits, open its cgroup.procs files. */
int cgroup_sprite_open(struct sprite *sp, char *err, size_t errlen);
/* In a child: move into the sprite's cgroup, and become a sprite process:
 * first in line for the host's OOM killer, with the descriptor limit
 * spritesd was started with.  0 or -1. */
int cgroup_join(const struct sprite *sp);
void cgroup_sprite_close(struct sprite *sp);
/* The sprite is gone or cold: its cgroup too, once its processes are
 * (wait: give the killed ones up to 2 s to finish exiting). */
void cgroup_sprite_remove(struct sprite *sp, int wait);

/* ---- limits.c ---- */
/* Defaults that leave this host alive: the smaller of a Fly VM's and a
 * share of the host (spritesd.1, LIMITS). */
void limits_default(struct limits *lim, const char *statedir);
/* What all sprites together may use (the cgroup above theirs). */
void limits_total(const struct limits *each, struct limits *total);
/* The sprite's limits: its config's where set, else the server's. */
void sprite_limits(const struct sprite *sp, struct limits *lim);
/* Check a create request's "config"; -1 with err (a 400's message). */
int limits_check_config(json_t *config, char *err, size_t errlen);
/* The config to show: what it asked for, with the limits in force. */
void limits_show(const struct sprite *sp, json_t *config);

/* ---- launch.c ---- */
/* Start the sprite's sandbox (its ids, cgroup and policy directory ready;
 * policy_dir is taken): its pid 1 once it runs, or -1 with err. */
pid_t launch_sandbox(struct sprite *sp, const struct limits *lim, char *policy_dir, char *err, size_t errlen);

/* ---- sandbox.c ---- */
#define SPRITE_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* A child about to exec: undo what spritesd changed in its own process. */
void child_reset_signals(void);
/* Check this host can confine sprites (user namespaces, cgroups, seccomp);
 * sets srv->no_sandboxes with the reason when it cannot. */
void sandbox_setup(struct server *srv);
int sandbox_ensure(struct sprite *sp, char *err, size_t errlen);
void sandbox_stop(struct sprite *sp);
/* Re-adopt a sandbox left running by an earlier spritesd, if it is still there. */
void sandbox_adopt(struct sprite *sp);
void sandbox_release(struct sandbox *sb);
/* Start the idle watch: sprites with no session and no process of their own
 * for srv->idle_timeout_ms release their sandbox (they become cold). */
void sandbox_idle_watch(struct server *srv);
/* Called from the fd protocol when the sandbox's init exits. */
void sandbox_exited(struct sprite *sp);
int sandbox_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

struct spawn_req {
	const char *path;     /* executable; searched in envp's PATH when it has no '/' */
	char *const *argv;
	char *const *envp;
	const char *dir;
	int fd_in, fd_out, fd_err;
	int tty;              /* fd_in is a pty slave to make the controlling terminal */
};
/* Start a process inside the sprite's sandbox; it becomes spritesd's child.
 * Returns its pid, or -1 with err set. */
pid_t sandbox_spawn(struct sprite *sp, const struct spawn_req *req, char *err, size_t errlen);

/* ---- session.c ---- */
struct exec_request {
	char **argv;          /* NULL-terminated */
	size_t argc;
	char *path;
	char **env;           /* K=V overrides, NULL-terminated */
	size_t envc;
	char *dir;
	int tty, rows, cols;
	int stdin_enabled;
	long long max_run_after_disconnect_ms; /* 0: forever */
};
void exec_request_free(struct exec_request *req);

/* A ring slot: one chunk of output, or the exit record. */
struct chunk {
	uint8_t stream;       /* STREAM_STDOUT, STREAM_STDERR (TTY: STDOUT), STREAM_EXIT */
	uint8_t *data;
	size_t len;
	int exit_code;
};

struct session {
	lws_dll2_t list;          /* in sprite->sessions */
	struct sprite *sprite;
	pid_t pid;
	char id[24];
	char *command;
	char *workdir;
	int tty;
	int rows, cols;
	time_t created;
	long long last_activity_ms;
	long long max_run_after_disconnect_ms;

	int out_fd[2];            /* stdout, stderr pipes (TTY: [0] is the pty master); -1: done */
	struct lws *out_wsi[2];   /* lws watching duplicates of out_fd */
	struct lws *in_wsi;       /* stdin pipe (NULL when stdin is disabled or closed) */
	struct lws *pid_wsi;      /* pidfd */
	struct lws_buflist *stdin_q;
	int stdin_eof;            /* close the child's stdin once stdin_q drains */

	struct lws_ring *ring;    /* struct chunk; created on first output */
	uint32_t hist_tail;       /* oldest chunk kept (scrollback start) */
	size_t ring_bytes;
	int out_paused;           /* stopped reading the child: a client lags */

	lws_dll2_owner_t clients; /* struct exec_conn */
	lws_dll2_owner_t killers; /* struct conn: kill requests waiting for the exit */
	int exited, exit_code;    /* the process has been reaped */
	int finished;             /* the exit record is in the ring */
	int exit_delivered;       /* some client has been sent the exit */
	lws_sorted_usec_list_t sul_linger, sul_orphan, sul_expire, sul_stdin;
	uint64_t bytes_out;
};

/* Room for one more running command in the sprite (the descriptor budget);
 * -1 with err saying how many run. */
int session_room(struct sprite *sp, char *err, size_t errlen);
struct session *session_start(struct sprite *sp, struct exec_request *req, char *err, size_t errlen);
struct session *session_find(struct sprite *sp, const char *id);
void session_stdin(struct session *s, const uint8_t *buf, size_t len);
void session_stdin_eof(struct session *s);
int session_stdin_full(struct session *s);
void session_resize(struct session *s, int cols, int rows);
int session_signal(struct session *s, int signo);
/* A client attached / detached (exec_ws.c keeps the client list). */
void session_client_attached(struct session *s);
void session_client_detached(struct session *s);
/* A client consumed ring chunks: maybe resume reading the child. */
void session_consumed(struct session *s);
void session_destroy(struct session *s);
/* spritesd is stopping, its lws context gone: free the session's memory
 * and descriptors, leaving its processes running in their sandbox. */
void session_forget(struct session *s);
json_t *session_json(struct session *s);
/* The fd protocol callback (pipes, pty, pidfds). */
int fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* ---- exec_ws.c ---- */
struct exec_conn {
	lws_dll2_t list;          /* in session->clients */
	struct session *sess;
	struct lws *wsi;
	uint32_t tail;            /* next ring chunk to send */
	int tail_valid;           /* tail points into the ring (ring may not exist yet) */
	int sent_info;
	int is_owner;
	int stdin_enabled;
	int sent_exit;
	int sent_close;           /* our close frame went; the client closes next */
	lws_sorted_usec_list_t sul_close;
	int rx_paused;            /* stopped reading: the session's stdin queue is full */
	char *failed_msg;         /* the command could not start: sent as its stderr */
};
/* Wake every client of the session to send what is new. */
void exec_clients_wake(struct session *s);
/* The session's stdin queue drained: resume reading clients. */
void exec_clients_stdin_drained(struct session *s);
/* Close every client (the sprite is going away). */
void exec_clients_close(struct session *s);

/* ---- listen.c ---- */
/* Listen on addr:port ourselves (port 0: any), setting srv->port. */
int listen_start(struct server *srv, const char *addr, int port, char *err, size_t errlen);
int listen_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int sniff_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
/* The head buf[0..head), whose request line ends at its first '\n', with
 * that line's escapes in lws's private form (malloc'd; *len set).  Pure,
 * for tests/fuzz/fuzz-sniff.c. */
char *listen_rewrite_head(const char *buf, size_t head, size_t *len);

/* ---- http.c ---- */
/* The protocol callback for HTTP and WebSocket connections. */
int sprites_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* Per-connection data of the "sprites" protocol (HTTP, or WebSocket once upgraded). */
struct conn {
	int is_ws;
	/* HTTP */
	char method[8];
	char path[512];
	char *body;
	size_t body_len;
	int body_too_big;
	int status;
	struct lws_buflist *out;  /* response body not yet written */
	int out_done;             /* nothing more will be queued */
	int streaming;            /* NDJSON: no length, close at the end */
	int close_after;          /* close once answered (a refused token: no keep-alive) */
	struct lws *wsi;          /* for writes queued from outside a callback */
	long long started_ms;
	/* a kill request waiting for its session to exit (kill.c) */
	struct session *kill_sess;
	lws_dll2_t kill_list;
	lws_sorted_usec_list_t kill_sul;
	int kill_phase;
	/* a checkpoint create or restore, queued or running (checkpoint.c) */
	struct cp_req *cp_req;
	/* WebSocket exec */
	struct exec_conn ec;
	struct frame_rx rx;
};

/* Parse "/v1/sprites/NAME/REST": fills name (decoded, at most 63 chars) and
 * returns REST ("" when none), or NULL when path is not under /v1/sprites/. */
const char *route_sprite(const char *path, char *name, size_t namelen);
int authorized(struct lws *wsi, struct server *srv);
struct query;
/* The request's query arguments, as lws decoded them, in order, with
 * listen.c's private escapes undone.  -1 when a value holds a NUL byte
 * (no argument or variable can). */
int http_args(struct lws *wsi, struct query *q);
/* Respond to a request: status, headers, then the body (taken, may be
 * NULL) from HTTP_WRITEABLE.  Return the result from the callback. */
int http_respond(struct lws *wsi, struct conn *c, int status, const char *type, char *body);
int http_respond_json(struct lws *wsi, struct conn *c, int status, json_t *o);
int http_respond_error(struct lws *wsi, struct conn *c, int status, const char *code, const char *msg);
/* A streamed application/x-ndjson response: begin (headers), lines as they
 * happen (the JSON is taken), end (the connection then closes). */
int http_stream_begin(struct lws *wsi, struct conn *c, int status);
void http_stream_line(struct conn *c, json_t *line);
void http_stream_end(struct conn *c);
/* Write a complete HTTP response now (status, JSON or empty body; reason,
 * unless NULL, also in a sprite-error header for WebSocket clients). */
int http_respond_now(struct lws *wsi, int status, const char *type, const char *body, size_t len,
                     const char *reason);
/* JSON error body {"error":code,"message":msg} (malloc'd). */
char *error_body(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- kill.c ---- */
/* POST /v1/sprites/NAME/exec/ID/kill */
int kill_request(struct lws *wsi, struct conn *c, struct session *s, int signo, long long timeout_ms);
/* The session ended: finish the kill requests waiting for it. */
void kill_requests_finish(struct session *s);
/* A kill request's connection closed. */
void kill_request_closed(struct conn *c);

/* Go durations ("10s", "1m30s", "500ms", "0") or bare seconds; -1 if bad. */
long long parse_duration_ms(const char *s);

/* ---- checkpoint.c ---- */
/* Checkpoints (spec section 5): btrfs snapshots of a sprite's files.
 * REST is "checkpoint" or "checkpoints[/ID[/restore]]". */
int checkpoint_route(struct lws *wsi, struct conn *c, struct sprite *sp, const char *rest);
/* The client of a checkpoint request went: the request goes on without it. */
void checkpoint_request_closed(struct conn *c);
/* The sprite is going (destroyed, or spritesd stopping): wait for the
 * snapshot being taken, if any; end its queued requests. */
void checkpoint_sprite_gone(struct sprite *sp, int destroyed);
/* The pipe of a snapshot's process (protocol "sprite-checkpoint"). */
int checkpoint_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len);

/* ---- volume.c ---- */
/* Put STATEDIR/sprites on btrfs if it is not (root, no sprites yet: a
 * loop-mounted STATEDIR/volume.img of size bytes, 0: never); sets
 * srv->sprites_btrfs, or srv->no_checkpoints saying why not. */
void volume_setup(struct server *srv, long long size);
/* "64G", "512M", "1T", bytes; -1 if bad. */
long long volume_parse_size(const char *s);
#define VOLUME_SIZE_DEFAULT (64LL << 30) /* sparse: only what is written takes room */

/* ---- subvol.c ---- */
int subvol_fs_is_btrfs(const char *path);
/* Is path the top directory of a btrfs subvolume? */
int subvol_is(const char *path);
int subvol_create(const char *path);
/* Count the filesystem's space per subvolume (btrfs quota groups), so
 * that subvol_limit can hold a subvolume to a size.  0 or -1 (errno). */
int subvol_quota_enable(const char *path);
/* Limit the subvolume at path to bytes (0: no limit).  0 or -1 (errno). */
int subvol_limit(const char *path, long long bytes);
/* Snapshot the subvolume src as dst (read-only when readonly). 0 or -1 (errno). */
int subvol_snapshot(const char *src, const char *dst, int readonly);
/* Destroy every subvolume at or under path, each at once; what is left
 * (plain files, subvolumes we may not destroy) is for remove_tree. */
void subvol_purge(const char *path);

/* ---- seccomp.c ----
 * The seccomp filter every process of a sprite runs under (spritesd.1,
 * SECCOMP): built once at start with libseccomp, kept as classic BPF so
 * that bwrap loads it for the sandbox and execs install it with one
 * prctl after joining the sandbox. */
struct sock_filter;
struct sprite_filter {
	struct sock_filter *prog; /* malloc'd */
	unsigned short len;       /* instructions */
};
/* Build it; -1 with err set. */
int seccomp_filter_build(struct sprite_filter *f, char *err, size_t errlen);
void seccomp_filter_free(struct sprite_filter *f);
/* Install it in the calling process, which has no_new_privs set: plain
 * syscalls only (a child made by a raw clone3 may call it).  0, or -1 (errno). */
int seccomp_filter_load(const struct sprite_filter *f);
/* A sealed memfd holding the program, for bwrap's --seccomp (close-on-exec:
 * the caller dup2s it where bwrap looks).  -1 (errno). */
int seccomp_filter_memfd(const struct sprite_filter *f);

/* ---- exec_ws.c ---- */
int exec_confirm_upgrade(struct lws *wsi, struct server *srv);
int exec_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct conn *c, void *in, size_t len);

/* ---- policy.c / proxy.c (and netpolicy.c, resolve.c, proxyreq.c, netns.c) ----
 * A sprite has its own network namespace (loopback only); its one way out
 * is spritesd's HTTP proxy at 127.0.0.1:PROXY_PORT inside it, which lets a
 * connection through when the sprite's policy allows the host. */
#define PROXY_PORT 3128

enum policy_kind { POLICY_EXACT, POLICY_SUFFIX, POLICY_ANY };
struct policy_rule {
	enum policy_kind kind;
	int allow;
	char *pattern;            /* normalized host; ".example.com" for "*.example.com"; "*" */
};
struct policy {
	json_t *doc;              /* the document as set: what GET returns */
	struct policy_rule *rules; /* in order, includes expanded */
	size_t n;                 /* 0: no enforcement */
};
struct policy_verdict {
	int allow;
	int exact;                /* a rule names the host exactly */
	char why[300];            /* one line: which rule decided, or why none did */
};
/* Check a policy document; NULL with err set ("invalid policy: ...") when
 * it is not one. */
struct policy *policy_parse(json_t *doc, char *err, size_t errlen);
struct policy *policy_empty(void);
void policy_free(struct policy *p);
/* What the policy says about host (a name or an IP address). */
void policy_decide(const struct policy *p, const char *host, struct policy_verdict *v);
/* A preset's domains (NULL-terminated; all allowed), or NULL if unknown. */
const char *const *policy_preset(const char *name);
/* Lower-case, without a trailing dot; an IP address (also "[::1]",
 * "127.1") in canonical form with *is_ip set.  -1 if not a host. */
int policy_host_normalize(const char *in, char *out, size_t outlen, int *is_ip);

/* netpolicy.c */
struct policy *netpolicy_get(struct sprite *sp);
/* Write the sandbox's view (DIR/policy/network.json); returns the
 * directory to bind at /.sprite/policy (malloc'd), or NULL with err. */
char *netpolicy_publish(struct sprite *sp, char *err, size_t errlen);
/* GET|POST /v1/sprites/NAME/policy/network */
int netpolicy_route(struct lws *wsi, struct conn *c, struct sprite *sp);

/* resolve.c */
#define RESOLVE_MAX 8
struct resolved {
	int gai_err;              /* getaddrinfo's error, 0 when n > 0 */
	int n;
	struct sockaddr_storage addr[RESOLVE_MAX]; /* with the port set */
	socklen_t len[RESOLVE_MAX];
};
/* An IP address (canonical form) as one result; -1 if host is not one. */
int resolve_literal(const char *host, int port, struct resolved *r);
/* Resolve host: 1 with r filled (a --resolve override); 0 with *fd to
 * watch, readable when resolve_finish can read the answer (a thread looks
 * it up); -1 with errno. */
int resolve_start(struct server *srv, const char *host, int port, struct resolved *r, int *fd);
/* 0: r filled; 1: not yet; -1: the lookup died. */
int resolve_finish(int fd, struct resolved *r);
/* Private, loopback, link-local, CGNAT, multicast or otherwise not public. */
int addr_is_private(const struct sockaddr *sa);
void addr_text(const struct sockaddr *sa, char *buf, size_t len);

/* proxyreq.c */
struct proxy_request {
	char method[16];
	char host[256];           /* as asked ("-" when unknown) */
	int port;
	int forward;              /* plain HTTP (absolute URI); else CONNECT */
	char *head;               /* forward: the head for the origin server (malloc'd) */
	size_t head_len;
};
/* End of a request's head in buf[0..len) (after its blank line); 0 if not
 * all there yet. */
size_t proxyreq_head_end(const uint8_t *buf, size_t len);
/* Parse the head buf[0..head); 0, or -1 with why set (a 400's reason). */
int proxyreq_parse(const uint8_t *buf, size_t head, struct proxy_request *r, char *why, size_t whylen);

/* netns.c */
/* A listening TCP socket on 127.0.0.1:port inside the sandbox's network
 * namespace (nonblocking, close-on-exec); -1 with err. */
int netns_listen(const struct sandbox *sb, int port, char *err, size_t errlen);

/* proxy.c */
/* Listen in the running sandbox's network namespace (replacing any old
 * listener); -1 with err when it cannot be (then the sprite has no way out). */
int proxy_start(struct sprite *sp, char *err, size_t errlen);
/* Close the listener and every tunnel. */
void proxy_free(struct proxy *px);
/* The policy changed: refuse pending requests and close open tunnels it no
 * longer allows. */
void proxy_policy_changed(struct sprite *sp);
/* Add the proxy's environment (http_proxy, ..., no_proxy) to env;
 * returns how many entries (at most PROXY_ENV_MAX). */
#define PROXY_ENV_MAX 8
size_t proxy_env(char **env);
int proxy_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int proxy_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

static inline struct server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

#endif
