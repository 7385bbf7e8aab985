/* sprite-sendkeys: type into a tmux pane inside a sprite, the way Claude
 * Code's TUI needs it: the text as a paste, then, after a pause, a separate
 * Enter (an Enter in the same burst would be a newline, not a submit); named
 * keys as keys.  The text never meets a shell.  See sprite-sendkeys(1).
 *
 * All requests go over one exec: a small sh loop in the sprite reads them
 * from its stdin, each a header line "TARGET LEN ENTER [KEY...]" (target and
 * key names are checked here to hold no blank or shell-special character)
 * followed by LEN bytes of text, and answers each with a line: "0", or "1"
 * and tmux's message (on the same stream, so that it comes with its answer). */
#include "cli.h"
#include "util.h"
#include "wsexec.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TEXT (1 << 20)  /* tmux buffers hold more; a prompt never does */
#define MAX_KEYS 32

/* The text goes through a file, not a pipe, so that a tmux failure cannot
 * leave part of it unread and the stream out of step.  One tmux client per
 * request does the paste and the keys (a fork costs a millisecond, and the
 * pane should see the text soon); the Enter comes after a pause, apart.
 * The file is the sprite's own /tmp's, named for this shell, for us alone. */
static const char remote_script[] =
	"umask 077\n"
	"buf=sprite-sendkeys-$$\n"
	"tmp=${TMPDIR:-/tmp}/$buf\n"
	"rm -f \"$tmp\"\n"
	"trap 'rm -f \"$tmp\"' EXIT\n"
	"while IFS=' ' read -r target len enter keys; do\n"
	"  set --\n"
	"  if [ \"$len\" -gt 0 ]; then\n"
	"    head -c \"$len\" >\"$tmp\" || exit 1\n"
	"    set -- load-buffer -b \"$buf\" \"$tmp\" \\; paste-buffer -p -d -b \"$buf\" -t \"$target\"\n"
	"  fi\n"
	"  if [ -n \"$keys\" ]; then\n"
	"    if [ $# -gt 0 ]; then set -- \"$@\" \\;; fi\n"
	"    set -- \"$@\" send-keys -t \"$target\" $keys\n"
	"  fi\n"
	"  st=0 msg=\n"
	"  if [ $# -gt 0 ]; then msg=$(tmux \"$@\" 2>&1 >/dev/null) || st=1; fi\n"
	"  if [ \"$st\" = 0 ] && [ \"$enter\" = 1 ]; then\n"
	"    if [ \"$len\" -gt 0 ]; then sleep 0.1; fi\n"
	"    msg=$(tmux send-keys -t \"$target\" Enter 2>&1 >/dev/null) || st=1\n"
	"  fi\n"
	"  if [ \"$st\" = 0 ]; then echo 0; else printf '1 %s\\n' \"$(printf %s \"$msg\" | tr '\\n' ' ')\"; fi\n"
	"done\n";

struct request {
	char *target;
	char *text;
	size_t len;
	char **keys;
	size_t nkeys;
	int enter;
};

struct run {
	struct wsx *x;
	int json;
	/* Requests sent and not answered yet (their targets, for --json). */
	char **pending;
	size_t npending, cap, answered;
	char ack[512];         /* the answer being read; a long message is cut */
	size_t acklen;
	int failed;
	/* --json: stdin, read as it comes. */
	char *in;
	size_t inlen;
	unsigned long long lineno;
	int in_eof;
	const char *default_target;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-s SPRITE] [--api URL] -t TARGET [--no-enter] [--key KEY]... [TEXT]\n"
	        "       %s [-s SPRITE] [--api URL] [-t TARGET] --json\n"
	        "  -s SPRITE    the sprite (default: $SPRITE)\n"
	        "  -t TARGET    the tmux pane, as tmux names it (task-daemon:task-7)\n"
	        "  TEXT         typed as a paste, then Enter (default: read from stdin)\n"
	        "  --no-enter   do not press Enter after the text\n"
	        "  --key KEY    press a named key (Escape, Up, C-c, 1, y...); repeatable\n"
	        "  --json       read requests as JSON lines on stdin:\n"
	        "               {\"target\":T,\"text\":S,\"keys\":[K...],\"enter\":B}\n"
	        "  --api URL    the Sprites API (default: $SPRITES_API_URL, or the local spritesd)\n",
	        progname(), progname());
}

/* tmux targets and key names: no blank, quote or shell character, so that
 * they pass through the remote loop's word splitting as themselves. */
static int safe_word(const char *s, const char *extra)
{
	if (!*s || strlen(s) > 200)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr(extra, *p)))
			return 0;
	return 1;
}
#define TARGET_CHARS "_-.:@%+=~^{}!"
#define KEY_CHARS "_-+"

/* Check a request; NULL, or what is wrong with it. */
static const char *check(const struct request *r)
{
	if (!r->target)
		return "no target: use -t TARGET or give \"target\"";
	if (!safe_word(r->target, TARGET_CHARS))
		return "bad target: use a tmux target such as task-daemon:task-7";
	if (r->len > MAX_TEXT)
		return "text over 1 MiB";
	if (r->nkeys > MAX_KEYS)
		return "more than 32 keys";
	for (size_t i = 0; i < r->nkeys; i++)
		if (!safe_word(r->keys[i], KEY_CHARS))
			return "bad key name: use tmux key names such as Escape, Up, C-c, Enter, 1";
	if (!r->len && !r->nkeys && !r->enter)
		return "nothing to send";
	return NULL;
}

static void send_request(struct run *run, const struct request *r)
{
	char *head = xasprintf("%s %zu %d", r->target, r->len, r->enter);
	wsx_write(run->x, head, strlen(head));
	free(head);
	for (size_t i = 0; i < r->nkeys; i++) {
		wsx_write(run->x, " ", 1);
		wsx_write(run->x, r->keys[i], strlen(r->keys[i]));
	}
	wsx_write(run->x, "\n", 1);
	if (r->len)
		wsx_write(run->x, r->text, r->len);
	if (run->npending == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 16;
		run->pending = xrealloc(run->pending, run->cap * sizeof *run->pending);
	}
	run->pending[run->npending++] = xstrdup(r->target);
}

/* One answer from the sprite, the oldest pending request's: "0", or "1"
 * and what tmux said. */
static void answered(struct run *run, const char *ack)
{
	if (!run->npending)
		return;
	char *target = run->pending[0];
	memmove(run->pending, run->pending + 1, --run->npending * sizeof *run->pending);
	run->answered++;
	int ok = !strcmp(ack, "0");
	const char *msg = ok ? "" : ack[0] == '1' && ack[1] == ' ' ? ack + 2 : ack;
	if (!ok)
		run->failed = 1;
	if (run->json) {
		json_t *o = json_pack("{s:I, s:s, s:b}", "n", (json_int_t)run->answered, "target", target, "ok", ok);
		if (!ok) {
			char *m = utf8_lossy(*msg ? msg : "tmux failed");
			json_object_set_new(o, "error", json_string(m));
			free(m);
		}
		print_json_line(o);
		json_decref(o);
	} else if (!ok) {
		warnx_("could not send to %s: %s", target, *msg ? msg : "tmux failed");
	}
	free(target);
}

static void on_output(void *arg, int stream, const uint8_t *buf, size_t len)
{
	struct run *run = arg;
	if (stream == STREAM_STDERR) {
		/* The loop's own trouble (tmux missing, say), said as ours. */
		char *msg = xasprintf("%.*s", (int)len, (const char *)buf);
		for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n"))
			warnx_("in the sprite: %s", line);
		free(msg);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n') {
			if (run->acklen < sizeof run->ack - 1)
				run->ack[run->acklen++] = (char)buf[i];
			continue;
		}
		run->ack[run->acklen] = '\0';
		/* tmux's message ends with the blank that stood for its newline. */
		while (run->acklen > 1 && run->ack[run->acklen - 1] == ' ')
			run->ack[--run->acklen] = '\0';
		answered(run, run->ack);
		run->acklen = 0;
	}
}

/* ---- --json: requests from stdin ---- */

static void json_request(struct run *run, const char *line, size_t len)
{
	json_error_t jerr;
	run->lineno++;
	if (!len)
		return;
	json_t *o = json_loadb(line, len, 0, &jerr);
	struct request r = { 0 };
	const char *bad = NULL;
	json_t *keys = json_object_get(o, "keys"), *enter = json_object_get(o, "enter");
	json_t *text = json_object_get(o, "text"), *target = json_object_get(o, "target");
	if (!json_is_object(o))
		bad = "not a JSON object";
	else if ((text && !json_is_string(text)) || (target && !json_is_string(target)) ||
	         (keys && !json_is_array(keys)) || (enter && !json_is_boolean(enter)))
		bad = "want {\"target\":STRING,\"text\":STRING,\"keys\":[STRING...],\"enter\":BOOLEAN}";
	if (!bad) {
		r.target = target ? (char *)json_string_value(target) : (char *)run->default_target;
		r.text = text ? (char *)json_string_value(text) : NULL;
		r.len = text ? json_string_length(text) : 0;
		/* Enter follows text unless told otherwise; keys alone press no Enter. */
		r.enter = enter ? json_is_true(enter) : r.len > 0;
		r.nkeys = json_array_size(keys);
		r.keys = xcalloc(r.nkeys + 1, sizeof *r.keys);
		for (size_t i = 0; i < r.nkeys && !bad; i++)
			if (!(r.keys[i] = (char *)json_string_value(json_array_get(keys, i))))
				bad = "keys must be strings";
		if (!bad)
			bad = check(&r);
	}
	if (bad) {
		warnx_("stdin line %llu: %s: skipped", run->lineno, bad);
		run->failed = 1;
	} else {
		send_request(run, &r);
	}
	free(r.keys);
	json_decref(o);
}

static int on_stdin(void *arg, int fd)
{
	struct run *run = arg;
	if (run->in_eof)
		return -1;
	run->in = xrealloc(run->in, run->inlen + 65536);
	ssize_t n = read(fd, run->in + run->inlen, 65536);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		if (run->inlen)
			json_request(run, run->in, run->inlen);
		run->inlen = 0;
		run->in_eof = 1;
		wsx_close_stdin(run->x);
		return -1; /* no more to watch */
	}
	run->inlen += (size_t)n;
	char *start = run->in, *nl;
	while ((nl = memchr(start, '\n', run->inlen - (size_t)(start - run->in)))) {
		json_request(run, start, (size_t)(nl - start));
		start = nl + 1;
	}
	run->inlen -= (size_t)(start - run->in);
	memmove(run->in, start, run->inlen);
	if (run->inlen > 2 * MAX_TEXT)
		die(EXIT_FAIL, "stdin line %llu is over 2 MiB: not a request", run->lineno + 1);
	return 0;
}

/* The text to type when it is not an argument: all of stdin, less one final
 * newline (echo's), which would otherwise be typed too. */
static char *read_text(size_t *len)
{
	size_t cap = 65536;
	char *buf = xmalloc(cap);
	*len = 0;
	for (;;) {
		if (*len == cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t n = read(0, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EXIT_FAIL, "cannot read the text on stdin: %s", strerror(errno));
		if (n == 0)
			break;
		*len += (size_t)n;
		if (*len > MAX_TEXT + 1)
			die(EXIT_USAGE, "the text on stdin is over 1 MiB");
	}
	if (*len && buf[*len - 1] == '\n')
		(*len)--;
	return buf;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "sprite", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "no-enter", no_argument, NULL, 'E' },
		{ "json", no_argument, NULL, 'j' },
		{ "api", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sprite = getenv("SPRITE"), *api = NULL;
	struct request r = { 0 };
	int no_enter = 0, json = 0, c;
	char *keys[MAX_KEYS + 1];
	char *stdin_text = NULL; /* r.text, when read from stdin */

	set_progname(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sprite = optarg; break;
		case 't': r.target = optarg; break;
		case 'k':
			if (r.nkeys == MAX_KEYS)
				die(EXIT_USAGE, "at most %d --key", MAX_KEYS);
			keys[r.nkeys++] = optarg;
			break;
		case 'E': no_enter = 1; break;
		case 'j': json = 1; break;
		case 'a': api = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			cli_option_error(c, argv);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!sprite || !*sprite)
		die(EXIT_USAGE, "which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)");
	if (!valid_sprite_name(sprite))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, sprite);
	if (json && (optind < argc || r.nkeys || no_enter))
		die(EXIT_USAGE, "--json reads everything from stdin: no TEXT, --key or --no-enter");
	if (optind + 1 < argc)
		die(EXIT_USAGE, "one TEXT argument at most (quote it)");
	if (!json) {
		r.keys = keys;
		if (optind < argc) {
			r.text = argv[optind];
			r.len = strlen(r.text);
		} else if (!r.nkeys) {
			r.text = stdin_text = read_text(&r.len);
		}
		r.enter = r.len > 0 && !no_enter;
		const char *bad = check(&r);
		if (bad)
			die(EXIT_USAGE, "%s", bad);
	} else if (r.target && !safe_word(r.target, TARGET_CHARS)) {
		die(EXIT_USAGE, "bad target: use a tmux target such as task-daemon:task-7");
	}

	struct sprite_config cfg;
	cli_config(&cfg, api);
	char err[512];
	struct wsx_ctx *ctx = wsx_ctx_new(&cfg, err, sizeof err);
	if (!ctx)
		die(EXIT_FAIL, "%s", err);
	char *remote[] = { "sh", "-c", (char *)remote_script, "sprite-sendkeys", NULL };
	struct wsx_opts o = { .sprite = sprite, .argv = remote, .stdin_mode = WSX_STDIN_API };
	struct run run = { .json = json, .default_target = r.target };
	struct wsx_handlers h = { NULL, on_output, NULL, &run };
	run.x = wsx_open(ctx, &o, &h);
	if (json) {
		if (wsx_watch_fd(ctx, 0, on_stdin, &run) < 0)
			die(EXIT_FAIL, "cannot watch stdin");
	} else {
		send_request(&run, &r);
		wsx_close_stdin(run.x);
	}
	while (!wsx_done(run.x))
		wsx_service(ctx);
	int code = wsx_exit_code(run.x);
	if (code < 0)
		warnx_("%s", wsx_error(run.x));
	else if (code && !run.failed)
		warnx_("the sprite's tmux loop failed (status %d): is tmux installed in the sprite?", code);
	int unanswered = run.npending > 0;
	if (unanswered && code >= 0)
		warnx_("%zu request%s not answered", run.npending, run.npending == 1 ? "" : "s");
	for (size_t i = 0; i < run.npending; i++)
		free(run.pending[i]);
	free(run.pending);
	free(run.in);
	free(stdin_text);
	wsx_free(run.x);
	wsx_ctx_free(ctx);
	config_free(&cfg);
	return code == 0 && !run.failed && !unanswered ? EXIT_OK : EXIT_FAIL;
}
