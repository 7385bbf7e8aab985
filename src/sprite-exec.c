/* sprite-exec: run a command in a sprite, like ssh: stdout and stderr kept
 * apart and byte-exact, stdin forwarded, the remote exit status returned
 * (255 when the connection failed).  See sprite-exec(1). */
#include "cli.h"
#include "term.h"
#include "util.h"
#include "wsexec.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* spritesd's HTTP parser keeps about 90 header and query fragments; stay
 * well inside that. */
#define MAX_QUERY_ITEMS 64

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-s SPRITE] [--api URL] [-t] [-n] [-e K=V]... [-C DIR] [--json | --detach] -- CMD [ARG...]\n"
	        "       %s [-s SPRITE] [--api URL] [-n] [--json] --attach ID\n"
	        "  -s SPRITE    the sprite (default: $SPRITE)\n"
	        "  -t           run the command on a terminal (interactive, like ssh -t)\n"
	        "  -n           send no stdin (the command reads EOF)\n"
	        "  -e K=V       set an environment variable (repeatable)\n"
	        "  -C DIR       working directory (default /home/sprite)\n"
	        "  --json       print the event stream as JSON lines instead of the output\n"
	        "  --detach     start the command, print its session as a JSON line, leave it running\n"
	        "  --attach ID  attach to a session: its recent output, then live, then its exit\n"
	        "  --api URL    the Sprites API (default: $SPRITES_API_URL, or the local spritesd)\n",
	        progname(), progname());
}

/* --json output: one line per event, data as text when it is UTF-8 and as
 * base64 otherwise.  A UTF-8 sequence cut by a chunk boundary is held back
 * and completed by the next chunk of the same stream. */
struct json_out {
	uint8_t held[2][4];
	size_t held_len[2];
};

/* Length of an incomplete UTF-8 sequence at the end of buf (0-3). */
static size_t utf8_tail(const uint8_t *buf, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		uint8_t c = buf[len - back];
		if ((c & 0xc0) == 0x80)
			continue;          /* continuation byte: keep looking */
		size_t need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
		return need > back ? back : 0;
	}
	return 0;
}

static void emit_data(const char *type, const uint8_t *buf, size_t len)
{
	json_t *s = json_stringn((const char *)buf, len);
	json_t *o;
	if (s) {
		o = json_pack("{s:s, s:o}", "type", type, "data", s);
	} else {
		size_t cap = len * 4 / 3 + 8;
		char *b64 = xmalloc(cap);
		lws_b64_encode_string((const char *)buf, (int)len, b64, (int)cap);
		o = json_pack("{s:s, s:s}", "type", type, "data_base64", b64);
		free(b64);
	}
	print_json_line(o);
	json_decref(o);
}

static void json_output(struct json_out *jo, int stream, const uint8_t *buf, size_t len)
{
	int i = stream == STREAM_STDERR;
	const char *type = i ? "stderr" : "stdout";
	uint8_t *joined = NULL;
	if (jo->held_len[i]) {
		joined = xmalloc(jo->held_len[i] + len);
		memcpy(joined, jo->held[i], jo->held_len[i]);
		memcpy(joined + jo->held_len[i], buf, len);
		len += jo->held_len[i];
		buf = joined;
		jo->held_len[i] = 0;
	}
	size_t tail = utf8_tail(buf, len);
	if (tail) {
		memcpy(jo->held[i], buf + len - tail, tail);
		jo->held_len[i] = tail;
		len -= tail;
	}
	if (len)
		emit_data(type, buf, len);
	free(joined);
}

static void json_flush(struct json_out *jo)
{
	for (int i = 0; i < 2; i++)
		if (jo->held_len[i]) {
			emit_data(i ? "stderr" : "stdout", jo->held[i], jo->held_len[i]);
			jo->held_len[i] = 0;
		}
}

struct run {
	const char *sprite;
	int json;
	struct json_out jo;
	int detach, detached;     /* --detach: stop once session_info arrived */
	int interactive;          /* -t (or an attached TTY session) with a local terminal */
	struct term term;
	struct wsx *x;
	char session_id[64];
	int interrupts;           /* SIGINTs seen (non-TTY) */
};

static void restore_at_exit(int status, void *arg)
{
	(void)status;
	term_restore(arg);
}

static void on_info(void *arg, const struct frame_text *info, const char *json)
{
	struct run *r = arg;
	snprintf(r->session_id, sizeof r->session_id, "%s", info->session_id);
	if (r->detach) {
		json_t *o = json_pack("{s:s, s:s, s:b}", "sprite", r->sprite, "session_id", info->session_id,
		                      "tty", info->tty);
		print_json_line(o);
		json_decref(o);
		r->detached = 1;
		return;
	}
	if (r->json) {
		json_t *o = json_loads(json, 0, NULL);
		if (o)
			print_json_line(o);
		json_decref(o);
	}
	/* A TTY session on our terminal: raw mode, and its size. */
	if (info->tty && r->interactive && !r->json && term_raw(&r->term, 0) == 0) {
		int rows, cols;
		if (term_size(0, &rows, &cols) == 0)
			wsx_resize(r->x, cols, rows);
	}
}

static void on_output(void *arg, int stream, const uint8_t *buf, size_t len)
{
	struct run *r = arg;
	if (r->detach)
		return;
	if (r->json) {
		json_output(&r->jo, stream, buf, len);
		return;
	}
	if (write_all(stream == STREAM_STDERR ? 2 : 1, buf, len) < 0) {
		/* Our reader went away (`| head`): end as a local command would. */
		if (errno == EPIPE)
			exit(128 + SIGPIPE);
		die(255, "cannot write the command's output: %s", strerror(errno));
	}
}

static void on_text(void *arg, const char *json, size_t len)
{
	struct run *r = arg;
	if (!r->json)
		return;
	json_t *o = json_loadb(json, len, 0, NULL);
	if (o)
		print_json_line(o);
	json_decref(o);
}

/* Signals arrive through a signalfd in the event loop. */
static int on_signal(void *arg, int fd)
{
	struct run *r = arg;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof si) != (ssize_t)sizeof si)
		return 0;
	int sig = (int)si.ssi_signo;
	if (sig == SIGWINCH) {
		int rows, cols;
		if (r->term.raw && term_size(0, &rows, &cols) == 0)
			wsx_resize(r->x, cols, rows);
		return 0;
	}
	if (sig == SIGINT && !r->term.raw && r->interrupts++ == 0 && wsx_signal(r->x, "INT") == 0)
		return 0; /* the remote command decides; a second ^C leaves at once */
	term_restore(&r->term);
	exit(128 + sig);
}

static int watch_signals(struct wsx_ctx *ctx, struct run *r)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -1 : wsx_watch_fd(ctx, fd, on_signal, r);
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "sprite", required_argument, NULL, 's' },
		{ "api", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "tty", no_argument, NULL, 't' },
		{ "detach", no_argument, NULL, 'd' },
		{ "attach", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sprite = getenv("SPRITE"), *api = NULL, *dir = NULL, *attach = NULL;
	int no_stdin = 0, json = 0, tty = 0, detach = 0;
	char **env = xcalloc((size_t)argc + 1, sizeof *env);
	size_t envc = 0;
	int c;

	set_progname(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	/* '+': options end at the command, so its own flags stay its own. */
	while ((c = getopt_long(argc, argv, "+:s:ne:C:th", opts, NULL)) != -1) {
		switch (c) {
		case 's': sprite = optarg; break;
		case 'a': api = optarg; break;
		case 'n': no_stdin = 1; break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				die(EXIT_USAGE, "bad -e \"%s\": use -e NAME=VALUE", optarg);
			env[envc++] = optarg;
			break;
		case 'C': dir = optarg; break;
		case 'j': json = 1; break;
		case 't': tty = 1; break;
		case 'd': detach = 1; break;
		case 'A': attach = optarg; break;
		case 'h': usage(stdout); free(env); return EXIT_OK;
		default:
			cli_option_error(c, argv);
			usage(stderr);
			free(env);
			return EXIT_USAGE;
		}
	}
	if (attach && (optind < argc || detach || tty || envc || dir))
		die(EXIT_USAGE, "--attach ID takes no command, -t, -e, -C or --detach: the session has them");
	if (!attach && optind >= argc) {
		warnx_("no command given");
		usage(stderr);
		free(env);
		return EXIT_USAGE;
	}
	if (detach && json)
		die(EXIT_USAGE, "--detach prints the session; it has no event stream for --json");
	if (!sprite || !*sprite)
		die(EXIT_USAGE, "which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)");
	if (!valid_sprite_name(sprite))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, sprite);
	if ((size_t)(argc - optind) + envc > MAX_QUERY_ITEMS)
		die(EXIT_USAGE, "too many arguments and -e variables (%zu, at most %d): pass the rest on stdin or in a script",
		    (size_t)(argc - optind) + envc, MAX_QUERY_ITEMS);

	/* Like ssh, every failure of our own is 255: 1 could be the command's. */
	struct sprite_config cfg;
	char err[512];
	if (config_resolve(&cfg, api, err, sizeof err) < 0)
		die(255, "%s", err);
	struct wsx_ctx *ctx = wsx_ctx_new(&cfg, err, sizeof err);
	if (!ctx)
		die(255, "%s", err);

	struct run run = { .sprite = sprite, .json = json, .detach = detach };
	run.interactive = isatty(0) && !detach;
	on_exit(restore_at_exit, &run.term);
	int rows = 24, cols = 80;
	if (tty)
		term_size(isatty(0) ? 0 : 1, &rows, &cols);
	struct wsx_opts o = {
		.sprite = sprite,
		.argv = attach ? NULL : argv + optind,
		.env = env,
		.dir = dir,
		.tty = tty,
		.rows = rows,
		.cols = cols,
		.stdin_mode = no_stdin ? WSX_STDIN_NONE : detach ? WSX_STDIN_API : WSX_STDIN_FD,
		.stdin_fd = 0,
		.attach_id = attach,
		/* A detached command must outlive this connection. */
		.max_run_after_disconnect = detach && !tty ? "0" : NULL,
	};
	struct wsx_handlers h = { on_info, on_output, on_text, &run };
	struct wsx *x = wsx_open(ctx, &o, &h);
	run.x = x;
	if (!detach && watch_signals(ctx, &run) < 0)
		die(255, "cannot watch signals: %s", strerror(errno));
	while (!wsx_done(x) && !run.detached)
		wsx_service(ctx);
	term_restore(&run.term);

	int code = run.detached ? 0 : wsx_exit_code(x);
	if (json) {
		json_flush(&run.jo);
		json_t *ev = code >= 0 ? json_pack("{s:s, s:i}", "type", "exit", "exit_code", code)
		                       : json_pack("{s:s, s:s}", "type", "error", "message", wsx_error(x));
		print_json_line(ev);
		json_decref(ev);
	}
	if (code < 0 && run.session_id[0] && wsx_connected(x))
		warnx_("%s (it may still be running: sprite-exec -s %s --attach %s)", wsx_error(x), sprite,
		       run.session_id);
	else if (code < 0)
		warnx_("%s", wsx_error(x));
	wsx_free(x);
	wsx_ctx_free(ctx);
	config_free(&cfg);
	free(env);
	return code < 0 ? 255 : code;
}
