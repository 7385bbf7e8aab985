/* sprite-sessions: list a sprite's exec sessions (one JSON line each), or
 * signal one and follow it until it ends.  See sprite-sessions(1). */
#include "api.h"
#include "cli.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-s SPRITE] [--api URL]\n"
	        "       %s [-s SPRITE] [--api URL] --kill ID [--signal SIG] [--timeout DURATION]\n"
	        "  -s SPRITE       the sprite (default: $SPRITE)\n"
	        "  --kill ID       signal session ID's process group and print its progress\n"
	        "  --signal SIG    the signal (default TERM)\n"
	        "  --timeout DUR   after this, SIGKILL (default 10s; 0: signal and do not wait)\n",
	        progname(), progname());
}

static int list(const struct sprite_config *cfg, const char *sprite)
{
	char *path = xasprintf("/v1/sprites/%s/exec", sprite);
	struct api_response resp;
	char err[512], what[128];
	int rc = api_call(cfg, "GET", path, NULL, NULL, API_IDEMPOTENT, &resp, err, sizeof err);
	free(path);
	long st = rc < 0 ? 0 : resp.status;
	if (st != 200) {
		snprintf(what, sizeof what, "cannot list the sessions of sprite \"%s\"", sprite);
		if (st == 404)
			cli_sprite_not_found(sprite);
		else
			cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
		api_response_free(&resp);
		return EXIT_FAIL;
	}
	/* {"sessions":[...]}, or a bare array (spec 10.2). */
	json_t *arr = json_is_array(resp.json) ? resp.json : json_object_get(resp.json, "sessions");
	size_t i;
	json_t *s;
	json_array_foreach(arr, i, s)
		print_json_line(s);
	api_response_free(&resp);
	return EXIT_OK;
}

struct follow {
	int exit_code;
	int failed;
};

static void on_line(json_t *line, const char *raw, void *arg)
{
	struct follow *f = arg;
	if (!line) {
		warnx_("the server sent a line that is not JSON: %.200s", raw);
		return;
	}
	print_json_line(line);
	const char *type = json_string_value(json_object_get(line, "type"));
	if (type && !strcmp(type, "complete") && json_is_integer(json_object_get(line, "exit_code")))
		f->exit_code = (int)json_integer_value(json_object_get(line, "exit_code"));
	if (type && !strcmp(type, "error"))
		f->failed = 1;
}

static int kill_session(const struct sprite_config *cfg, const char *sprite, const char *id,
                        const char *sig, const char *timeout)
{
	char *path = xasprintf("/v1/sprites/%s/exec/%s/kill", sprite, id);
	struct query q;
	query_init(&q);
	query_add(&q, "signal", sig);
	query_add(&q, "timeout", timeout);
	struct follow f = { -1, 0 };
	struct api_response resp;
	char err[512], what[160];
	int rc = api_stream(cfg, "POST", path, &q, NULL, on_line, &f, &resp, err, sizeof err);
	free(path);
	query_free(&q);
	long st = rc < 0 ? 0 : resp.status;
	int result = EXIT_OK;
	if (st == 410) {
		/* Already gone: what the caller wanted. */
		warnx_("session %s has already exited", id);
	} else if (st != 200) {
		snprintf(what, sizeof what, "cannot signal session %s of sprite \"%s\"", id, sprite);
		if (st == 404)
			warnx_("session %s not found in sprite \"%s\" (sprite-sessions -s %s lists them)", id, sprite,
			       sprite);
		else
			cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
		result = EXIT_FAIL;
	} else if (f.failed) {
		result = EXIT_FAIL;
	}
	api_response_free(&resp);
	return result;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "sprite", required_argument, NULL, 's' },
		{ "api", required_argument, NULL, 'a' },
		{ "kill", required_argument, NULL, 'k' },
		{ "signal", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sprite = getenv("SPRITE"), *api = NULL, *id = NULL, *sig = "TERM", *timeout = "10s";
	int c;

	set_progname(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sprite = optarg; break;
		case 'a': api = optarg; break;
		case 'k': id = optarg; break;
		case 'S': sig = optarg; break;
		case 'T': timeout = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			cli_option_error(c, argv);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!sprite || !*sprite)
		die(EXIT_USAGE, "which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)");
	if (!valid_sprite_name(sprite))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, sprite);
	if (id && (!*id || strspn(id, "0123456789") != strlen(id)))
		die(EXIT_USAGE, "bad session id \"%s\": sessions are numbered (sprite-sessions -s %s lists them)",
		    id, sprite);

	struct sprite_config cfg;
	cli_config(&cfg, api);
	int r = id ? kill_session(&cfg, sprite, id, sig, timeout) : list(&cfg, sprite);
	config_free(&cfg);
	return r;
}
