/* sprite-tail: follow a file inside a sprite, one JSON line per complete line,
 * each with a cursor to resume from at the exact byte.  See sprite-tail(1).
 *
 * Inside the sprite it runs a small sh script with tail, stat, head and
 * cksum (nothing else is needed there, so it works on Fly.io too): it waits
 * for the file, checks that the cursor still matches it (same file, long
 * enough, same bytes before the offset), then streams from the offset with
 * `tail -c +N -f`, and exits 4 when the file is replaced. */
#include "cksum.h"
#include "util.h"
#include "wsexec.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES (1024 * 1024) /* longer lines are reported and skipped */
#define CHECK_BYTES 64               /* the cursor's check covers this many bytes before it */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* $1 path, $2 offset, $3 file id, $4 check length, $5 check crc, $6 follow. */
static const char remote_script[] =
	"f=$1 off=$2 want=$3 n=$4 crc=$5 follow=$6\n"
	"until [ -e \"$f\" ]; do\n"
	"	[ \"$follow\" = 1 ] || { echo 'sprite-tail absent'; exit 0; }\n"
	"	sleep 0.2\n"
	"done\n"
	"set -- $(stat -L -c '%d:%i %s' \"$f\") || exit 3\n"
	"id=$1 size=$2\n"
	"if [ \"$off\" -gt 0 ]; then\n"
	"	if [ \"$id\" != \"$want\" ] || [ \"$size\" -lt \"$off\" ]; then off=0\n"
	"	elif [ \"$n\" -gt 0 ] &&\n"
	"	     [ \"$(tail -c +$((off - n + 1)) \"$f\" | head -c \"$n\" | cksum)\" != \"$crc $n\" ]; then off=0\n"
	"	fi\n"
	"fi\n"
	"echo \"sprite-tail $id $off\"\n"
	"[ \"$follow\" = 1 ] || exec tail -c +$((off + 1)) \"$f\"\n"
	/* tail's own notice of a truncation comes in line, before the data
	 * read again from the start: the client resets there. */
	"tail -c +$((off + 1)) -f \"$f\" 2>&1 &\n"
	"t=$!\n"
	"trap 'kill $t 2>/dev/null' EXIT HUP INT TERM\n"
	/* A replacement, or a shrink tail itself missed: start over. */
	"last=$size\n"
	"while sleep 1; do\n"
	"	set -- $(stat -L -c '%d:%i %s' \"$f\" 2>/dev/null) || exit 4\n"
	"	[ \"$1\" = \"$id\" ] && [ \"$2\" -ge \"$last\" ] || exit 4\n"
	"	last=$2\n"
	"	kill -0 $t 2>/dev/null || exit 5\n"
	"done\n";

struct tail {
	char source[512];
	int raw;
	/* the cursor: after the last complete line emitted */
	char file[64];
	long long epoch;               /* bumped when the same file starts over */
	unsigned long long offset;
	uint8_t window[CHECK_BYTES];   /* the bytes just before offset */
	size_t window_len;
	/* the connection being read */
	int have_header, absent;
	char header[256];
	size_t header_len;
	char *line;                    /* the line being assembled */
	size_t len, cap;
	int skipping;                  /* the current line is too long */
	unsigned long long skipped;
	uint8_t skip_tail[CHECK_BYTES];
	size_t skip_tail_len;
	unsigned long long lines;
	/* a --from cursor's check, until the sprite has verified it */
	int from_check;
	uint32_t from_crc;
	size_t from_n;
};

static void window_add(uint8_t *w, size_t *wl, const uint8_t *p, size_t n)
{
	if (!n) /* p may be NULL (no line yet), which memcpy may not take */
		return;
	if (n >= CHECK_BYTES) {
		memcpy(w, p + n - CHECK_BYTES, CHECK_BYTES);
		*wl = CHECK_BYTES;
		return;
	}
	size_t keep = *wl + n > CHECK_BYTES ? CHECK_BYTES - n : *wl;
	memmove(w, w + *wl - keep, keep);
	memcpy(w + keep, p, n);
	*wl = keep + n;
}

static json_t *cursor_json(const struct tail *t)
{
	char check[48];
	if (t->from_check)
		snprintf(check, sizeof check, "%u:%zu", t->from_crc, t->from_n);
	else
		snprintf(check, sizeof check, "%u:%zu", posix_cksum(t->window, t->window_len), t->window_len);
	return json_pack("{s:s, s:s, s:I, s:I, s:s}", "source", t->source, "file", t->file, "epoch",
	                 (json_int_t)t->epoch, "offset", (json_int_t)t->offset, "check", check);
}

static void emit(struct tail *t, const char *line, size_t len)
{
	if (t->raw) {
		if (write_all(1, line, len) < 0 || write_all(1, "\n", 1) < 0) {
			if (errno == EPIPE)
				exit(EXIT_OK);
			die(EXIT_FAIL, "cannot write to standard output: %s", strerror(errno));
		}
		return;
	}
	json_t *o = json_pack("{s:o}", "cursor", cursor_json(t));
	json_t *v = json_loadb(line, len, JSON_DECODE_ANY, NULL);
	if (v) {
		json_object_set_new(o, "line", v);
	} else if (len == 0) {
		json_object_set_new(o, "text", json_string("")); /* (line may be NULL then) */
	} else {
		json_t *s = json_stringn(line, len);
		if (s) {
			json_object_set_new(o, "text", s);
		} else {
			char *b64 = xmalloc(len * 4 / 3 + 8);
			lws_b64_encode_string(line, (int)len, b64, (int)(len * 4 / 3 + 8));
			json_object_set_new(o, "text_base64", json_string(b64));
			free(b64);
		}
	}
	print_json_line(o);
	json_decref(o);
}

static int is_truncation_notice(const char *line, size_t len)
{
	static const char tail_word[] = "tail: ", trunc[] = ": file truncated";
	return len > sizeof tail_word + sizeof trunc && !memcmp(line, tail_word, sizeof tail_word - 1) &&
	       !memcmp(line + len - (sizeof trunc - 1), trunc, sizeof trunc - 1);
}

static void start_over(struct tail *t)
{
	t->epoch++;
	t->offset = 0;
	t->window_len = 0;
}

static void line_done(struct tail *t)
{
	if (t->skipping) {
		warnx_("%s: the line ending at offset %llu is longer than %d bytes: skipped", t->source,
		       t->offset + t->skipped + 1, LINE_MAX_BYTES);
		t->offset += t->skipped + 1;
		window_add(t->window, &t->window_len, t->skip_tail, t->skip_tail_len);
		window_add(t->window, &t->window_len, (const uint8_t *)"\n", 1);
		t->skipping = 0;
		t->skipped = 0;
		t->skip_tail_len = 0;
		t->len = 0;
		return;
	}
	if (is_truncation_notice(t->line, t->len)) {
		warnx_("%s was truncated: reading it again from the start", t->source);
		start_over(t);
		t->len = 0;
		return;
	}
	t->offset += t->len + 1;
	window_add(t->window, &t->window_len, (const uint8_t *)t->line, t->len);
	window_add(t->window, &t->window_len, (const uint8_t *)"\n", 1);
	t->lines++;
	emit(t, t->line, t->len);
	t->len = 0;
}

static void add_bytes(struct tail *t, const uint8_t *p, size_t n)
{
	if (!n) /* nothing, and t->line may still be NULL: memcpy may not take it */
		return;
	if (t->skipping) {
		t->skipped += n;
		window_add(t->skip_tail, &t->skip_tail_len, p, n);
		return;
	}
	if (t->len + n > LINE_MAX_BYTES) {
		t->skipping = 1;
		t->skipped = t->len + n;
		t->skip_tail_len = 0;
		window_add(t->skip_tail, &t->skip_tail_len, (const uint8_t *)t->line, t->len);
		window_add(t->skip_tail, &t->skip_tail_len, p, n);
		t->len = 0;
		return;
	}
	if (t->len + n > t->cap) {
		t->cap = t->len + n < 4096 ? 4096 : (t->len + n) * 2;
		t->line = xrealloc(t->line, t->cap);
	}
	memcpy(t->line + t->len, p, n);
	t->len += n;
}

/* The script's first line: "sprite-tail ID OFFSET" (or "sprite-tail absent"). */
static void parse_header(struct tail *t)
{
	char id[64];
	unsigned long long off;
	if (!strcmp(t->header, "sprite-tail absent")) {
		t->absent = 1;
		return;
	}
	if (sscanf(t->header, "sprite-tail %63s %llu", id, &off) != 2)
		die(EXIT_FAIL, "%s: unexpected answer from the sprite: %.100s", t->source, t->header);
	/* The sprite has checked a --from cursor; from here our own window
	 * (what we read since) makes the checks. */
	t->from_check = 0;
	if (strcmp(id, t->file)) {
		/* Another file (created, or replaced): its own cursor, from 0. */
		snprintf(t->file, sizeof t->file, "%s", id);
		t->epoch = 0;
		t->offset = 0;
		t->window_len = 0;
	} else if (off != t->offset) {
		warnx_("%s changed under the cursor (truncated or rolled back): reading it again from the start",
		       t->source);
		start_over(t);
	}
}

static void on_output(void *arg, int stream, const uint8_t *buf, size_t len)
{
	struct tail *t = arg;
	if (stream == STREAM_STDERR) {
		/* The script's own complaints (stat, tail): pass them on. */
		(void)write_all(2, buf, len);
		return;
	}
	while (len && !t->have_header) {
		uint8_t c = *buf++;
		len--;
		if (c == '\n') {
			t->header[t->header_len] = '\0';
			t->have_header = 1;
			parse_header(t);
		} else if (t->header_len < sizeof t->header - 1) {
			t->header[t->header_len++] = (char)c;
		}
	}
	while (len) {
		const uint8_t *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;
		add_bytes(t, buf, n);
		if (!nl)
			break;
		line_done(t);
		buf += n + 1;
		len -= n + 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s -s SPRITE [--api URL] [-f] [--once] [--from CURSOR] [--raw] PATH\n"
	        "  -s SPRITE       the sprite (default: $SPRITE)\n"
	        "  -f              follow: wait for the file and for new lines, for ever\n"
	        "  --once          read what is new and exit (the default without -f)\n"
	        "  --from CURSOR   resume after a cursor printed earlier (\"\" from the start)\n"
	        "  --raw           print the lines only, without cursors\n",
	        progname());
}

/* Resume from a cursor printed earlier (by us, or kept by hook-apply). */
static void load_cursor(struct tail *t, const char *text)
{
	if (!text || !*text)
		return;
	json_error_t jerr;
	json_t *c = json_loads(text, 0, &jerr);
	const char *source = json_string_value(json_object_get(c, "source"));
	const char *file = json_string_value(json_object_get(c, "file"));
	json_t *off = json_object_get(c, "offset");
	const char *check = json_string_value(json_object_get(c, "check"));
	if (!json_is_object(c) || !source || !file || !json_is_integer(off) || json_integer_value(off) < 0 ||
	    strlen(file) >= sizeof t->file)
		die(EXIT_USAGE, "bad --from cursor: use one printed by sprite-tail or hook-apply --cursor");
	if (strcmp(source, t->source))
		die(EXIT_USAGE, "the --from cursor is for %s, not %s", source, t->source);
	snprintf(t->file, sizeof t->file, "%s", file);
	t->epoch = json_integer_value(json_object_get(c, "epoch"));
	t->offset = (unsigned long long)json_integer_value(off);
	/* The check is re-done in the sprite; here we only need its figures. */
	unsigned crc;
	size_t n;
	if (!check || sscanf(check, "%u:%zu", &crc, &n) != 2 || n > CHECK_BYTES || n > t->offset)
		die(EXIT_USAGE, "bad --from cursor: its check is malformed");
	json_decref(c);
	/* The bytes themselves are in the sprite: send it the figures to check. */
	t->from_check = 1;
	t->from_crc = crc;
	t->from_n = n;
}

static int run_once(struct tail *t, const char *sprite, const char *path, const char *api, int follow,
                    int *fatal, char *err, size_t errlen)
{
	struct sprite_config cfg;
	if (config_resolve(&cfg, api, err, errlen) < 0) {
		*fatal = 2; /* (a local spritesd restarting has no url file for a while) */
		return -1;
	}
	struct wsx_ctx *ctx = wsx_ctx_new(&cfg, err, errlen);
	if (!ctx) {
		config_free(&cfg);
		*fatal = 1;
		return -1;
	}
	char off[32], n[16], crc[16];
	snprintf(off, sizeof off, "%llu", t->offset);
	size_t check_len = t->from_check ? t->from_n : t->window_len;
	uint32_t check_crc = t->from_check ? t->from_crc : posix_cksum(t->window, t->window_len);
	snprintf(n, sizeof n, "%zu", check_len);
	snprintf(crc, sizeof crc, "%u", check_crc);
	char *argv[] = { "sh", "-c", (char *)remote_script, "sprite-tail", (char *)path, off,
		         t->file[0] ? t->file : "-", n, crc, follow ? "1" : "0", NULL };
	char *env[] = { "LC_ALL=C", NULL };
	struct wsx_opts o = { .sprite = sprite, .argv = argv, .env = env, .stdin_mode = WSX_STDIN_NONE };
	struct wsx_handlers h = { NULL, on_output, NULL, t };
	t->have_header = 0;
	t->header_len = 0;
	t->absent = 0;
	t->len = 0;
	t->skipping = 0;
	struct wsx *x = wsx_open(ctx, &o, &h);
	while (!wsx_done(x))
		wsx_service(ctx);
	int code = wsx_exit_code(x);
	int status = wsx_http_status(x);
	if (code < 0) {
		snprintf(err, errlen, "%s", wsx_error(x));
		*fatal = status == 401 || status == 403 || status == 404 || status == 400;
	}
	wsx_free(x);
	wsx_ctx_free(ctx);
	config_free(&cfg);
	return code;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "sprite", required_argument, NULL, 's' },
		{ "api", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "once", no_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'F' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sprite = getenv("SPRITE"), *api = NULL, *from = NULL;
	int follow = 0, once = 0, c;
	struct tail t;
	memset(&t, 0, sizeof t);

	set_progname(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:fh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sprite = optarg; break;
		case 'a': api = optarg; break;
		case 'f': follow = 1; break;
		case 'o': once = 1; break;
		case 'F': from = optarg; break;
		case 'r': t.raw = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			if (c == ':')
				warnx_("option %s needs an argument", argv[optind - 1]);
			else
				warnx_("unknown option %s", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (follow && once)
		die(EXIT_USAGE, "-f follows for ever and --once reads what is there: choose one");
	if (!sprite || !*sprite)
		die(EXIT_USAGE, "which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)");
	if (!valid_sprite_name(sprite))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, sprite);
	const char *path = argv[optind];
	if (!*path)
		die(EXIT_USAGE, "no file to follow");
	if (strlen(path) > 400)
		die(EXIT_USAGE, "the path is too long (at most 400 bytes)");
	/* As the cursors name it: JSON strings are UTF-8, and a path need not be. */
	char *source = xasprintf("%s:%s", sprite, path);
	char *lossy = utf8_lossy(source);
	snprintf(t.source, sizeof t.source, "%s", lossy);
	free(lossy);
	free(source);
	load_cursor(&t, from);

	int backoff = BACKOFF_MIN_MS, connected = 0;
	for (;;) {
		char err[512] = "";
		int fatal = 0;
		unsigned long long before = t.lines;
		int code = run_once(&t, sprite, path, api, follow, &fatal, err, sizeof err);
		if (code == 0 && !follow) {
			free(t.line);
			return EXIT_OK;
		}
		/* A configuration that worked once and fails now (a local spritesd
		 * between its stop and its start has no url file) is waited for
		 * when following; refusals (401, 404...) are final. */
		if (fatal == 1 || (fatal == 2 && !(follow && connected)))
			die(EXIT_FAIL, "%s", err);
		connected |= t.have_header;
		if (code == 3)
			die(EXIT_FAIL, "%s: cannot read the file in the sprite", t.source);
		if (code < 0 && !follow)
			die(EXIT_FAIL, "%s", err);
		if (t.have_header && (code == 4 || t.lines > before))
			backoff = BACKOFF_MIN_MS;
		if (code == 4)
			continue; /* the file was replaced: start on the new one at once */
		if (code < 0)
			warnx_("%s; reconnecting in %d ms", err, backoff);
		struct timespec ts = { backoff / 1000, (long)(backoff % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}
