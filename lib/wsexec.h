/* wsexec.h: run (or attach to) a command in a sprite over the exec WebSocket,
 * with libwebsockets: the same code speaks wss:// to api.sprites.dev and ws://
 * to a local spritesd.  It pings every 15 s and declares the connection dead
 * after 45 s of silence; it reassembles fragmented messages; it forwards a
 * local fd as stdin with flow control.
 *
 * Typical use:
 *   struct wsx_ctx *ctx = wsx_ctx_new(&cfg, err, sizeof err);
 *   struct wsx *x = wsx_open(ctx, &opts, &handlers);
 *   while (!wsx_done(x)) wsx_service(ctx);
 *   code = wsx_exit_code(x);   // -1: the connection failed or was lost
 */
#ifndef SPRITE_WSEXEC_H
#define SPRITE_WSEXEC_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "frame.h"

struct wsx_ctx;
struct wsx;

/* argv, env and dir travel in the upgrade request's URL, whose request line
 * libwebsockets 4.1's client caps at 2 KiB: the longest path we send. */
#define WSX_MAX_PATH 2000

enum wsx_stdin {
	WSX_STDIN_NONE,    /* no stdin: the EOF frame goes at once */
	WSX_STDIN_FD,      /* forward stdin_fd until EOF */
	WSX_STDIN_API,     /* the caller writes with wsx_write / wsx_close_stdin */
};

struct wsx_opts {
	const char *sprite;
	char *const *argv;        /* the command; NULL when attaching */
	char *const *env;         /* K=V, NULL-terminated, or NULL */
	const char *dir;          /* working directory, or NULL */
	int tty, rows, cols;
	enum wsx_stdin stdin_mode;
	int stdin_fd;
	const char *attach_id;    /* attach to this session instead of starting one */
	const char *max_run_after_disconnect; /* e.g. "10s", or NULL */
};

struct wsx_handlers {
	/* session_info arrived (always before any output is delivered). */
	void (*session_info)(void *arg, const struct frame_text *info, const char *json);
	/* Output: stream STREAM_STDOUT or STREAM_STDERR (TTY output: STDOUT). */
	void (*output)(void *arg, int stream, const uint8_t *buf, size_t len);
	/* Any other text message (port notices...), raw JSON. */
	void (*text)(void *arg, const char *json, size_t len);
	void *arg;
};

/* A context holds the event loop; one or more connections share it. */
struct wsx_ctx *wsx_ctx_new(const struct sprite_config *cfg, char *err, size_t errlen);
void wsx_ctx_free(struct wsx_ctx *ctx);

/* Start connecting.  Never NULL: failures are reported through wsx_done(). */
struct wsx *wsx_open(struct wsx_ctx *ctx, const struct wsx_opts *o, const struct wsx_handlers *h);
/* Forget a connection (closing it if still open). */
void wsx_free(struct wsx *x);

/* Run the event loop once (waits for activity or a timer). */
void wsx_service(struct wsx_ctx *ctx);

/* The command exited, or the connection failed or was lost. */
int wsx_done(const struct wsx *x);
/* The remote status (0-255), or -1 when no exit arrived. */
int wsx_exit_code(const struct wsx *x);
/* Why there is no exit code: one line, without the program name. */
const char *wsx_error(const struct wsx *x);
/* The HTTP status of a refused upgrade (401, 404...), else 0. */
int wsx_http_status(const struct wsx *x);
/* The connection is established (session_info may still be on its way). */
int wsx_connected(const struct wsx *x);
/* The server advertised this capability ("signal") on the upgrade. */
int wsx_has_capability(const struct wsx *x, const char *cap);

/* Queue stdin bytes / the stdin EOF (WSX_STDIN_API), a resize, a signal.
 * wsx_signal returns -1 when the server does not take signals. */
void wsx_write(struct wsx *x, const void *buf, size_t len);
void wsx_close_stdin(struct wsx *x);
void wsx_resize(struct wsx *x, int cols, int rows);
int wsx_signal(struct wsx *x, const char *signame);
/* Bytes queued for sending and not yet written to the socket. */
size_t wsx_pending(const struct wsx *x);

/* Watch another fd in the same loop (a signalfd, say): cb runs when it is
 * readable, and once more when it hangs up (to read its end of file); when
 * it returns -1 the watch ends and the fd is closed.  Returns 0, or -1. */
int wsx_watch_fd(struct wsx_ctx *ctx, int fd, int (*cb)(void *arg, int fd), void *arg);

#endif
