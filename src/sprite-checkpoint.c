/* sprite-checkpoint: make, list and restore a sprite's checkpoints.
 * See sprite-checkpoint(1). */
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
	        "usage: %s [-s SPRITE] [--api URL] create [-m COMMENT]\n"
	        "       %s [-s SPRITE] [--api URL] list\n"
	        "       %s [-s SPRITE] [--api URL] restore ID\n"
	        "  -s SPRITE     the sprite (default: $SPRITE)\n"
	        "  -m COMMENT    a comment to keep with the new checkpoint\n",
	        progname(), progname(), progname());
}

/* What the create and restore streams said, for the caller. */
struct follow {
	char *complete;       /* the complete event's text */
	char *error;          /* an error event's text */
};

static void on_line(json_t *line, const char *raw, void *arg)
{
	struct follow *f = arg;
	if (!line) {
		warnx_("the server sent a line that is not JSON: %.200s", raw);
		return;
	}
	const char *type = json_string_value(json_object_get(line, "type"));
	const char *data = json_string_value(json_object_get(line, "data"));
	const char *error = json_string_value(json_object_get(line, "error"));
	if (!type)
		return;
	if (!strcmp(type, "error")) {
		free(f->error);
		f->error = xstrdup(error ? error : data ? data : "unknown error");
		return;
	}
	if (!strcmp(type, "complete")) {
		free(f->complete);
		f->complete = xstrdup(data ? data : "");
	}
	/* info, complete (and stdout/stderr, which Go's SDK also names): progress. */
	if (data && *data)
		warnx_("%s", data);
}

/* After a 404 on a checkpoint: is it the sprite that is missing? */
static int sprite_exists(const struct sprite_config *cfg, const char *sprite)
{
	char *path = xasprintf("/v1/sprites/%s", sprite);
	struct api_response resp;
	char err[512];
	int rc = api_call(cfg, "GET", path, NULL, NULL, API_IDEMPOTENT, &resp, err, sizeof err);
	free(path);
	int exists = rc < 0 || resp.status != 404;
	api_response_free(&resp);
	return exists;
}

/* POST a checkpoint stream; on success f->complete holds the last word. */
static int stream(const struct sprite_config *cfg, const char *sprite, const char *path,
                  json_t *body, const char *what, const char *id, struct follow *f)
{
	struct api_response resp;
	char err[512];
	int rc = api_stream(cfg, "POST", path, NULL, body, on_line, f, &resp, err, sizeof err);
	long st = rc < 0 ? 0 : resp.status;
	int result = EXIT_FAIL;
	if (st == 404 && id && sprite_exists(cfg, sprite))
		warnx_("checkpoint %s not found in sprite \"%s\" (sprite-checkpoint -s %s list shows them)",
		       id, sprite, sprite);
	else if (st == 404)
		cli_sprite_not_found(sprite);
	else if (st != 200)
		cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
	else if (f->error)
		warnx_("%s: %s", what, f->error);
	else if (!f->complete)
		warnx_("%s: the server ended its answer before saying the work was complete (try again)",
		       what);
	else
		result = EXIT_OK;
	api_response_free(&resp);
	return result;
}

/* The checkpoint id in "Checkpoint v3 created" (Fly's wording may add to it). */
static char *id_in(const char *text)
{
	const char *p = strstr(text, "Checkpoint ");
	if (!p)
		return NULL;
	p += strlen("Checkpoint ");
	size_t n = strcspn(p, " \t\r\n");
	return n ? strndup(p, n) : NULL;
}

static int create(const struct sprite_config *cfg, const char *sprite, const char *comment)
{
	char *path = xasprintf("/v1/sprites/%s/checkpoint", sprite);
	char what[128];
	snprintf(what, sizeof what, "cannot checkpoint sprite \"%s\"", sprite);
	json_t *body = comment ? json_pack("{s:s}", "comment", comment) : json_object();
	struct follow f = { NULL, NULL };
	int r = stream(cfg, sprite, path, body, what, NULL, &f);
	json_decref(body);
	free(path);
	char *id = r == EXIT_OK ? id_in(f.complete) : NULL;
	if (r == EXIT_OK && !id) {
		warnx_("%s: the server said \"%s\" but named no checkpoint", what, f.complete);
		r = EXIT_FAIL;
	}
	if (id) {
		/* The stream only names it: the object comes from the API. */
		char *ipath = path_escape(id);
		char *gpath = xasprintf("/v1/sprites/%s/checkpoints/%s", sprite, ipath);
		struct api_response resp;
		char err[512];
		int rc = api_call(cfg, "GET", gpath, NULL, NULL, API_IDEMPOTENT, &resp, err, sizeof err);
		long st = rc < 0 ? 0 : resp.status;
		if (st == 200 && json_is_object(resp.json)) {
			print_json_line(resp.json);
		} else {
			snprintf(what, sizeof what, "checkpoint %s was made but cannot be read", id);
			cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
			r = EXIT_FAIL;
		}
		api_response_free(&resp);
		free(gpath);
		free(ipath);
	}
	free(id);
	free(f.complete);
	free(f.error);
	return r;
}

static int restore(const struct sprite_config *cfg, const char *sprite, const char *id)
{
	char *ipath = path_escape(id);
	char *path = xasprintf("/v1/sprites/%s/checkpoints/%s/restore", sprite, ipath);
	char what[160];
	snprintf(what, sizeof what, "cannot restore sprite \"%s\" to %s", sprite, id);
	struct follow f = { NULL, NULL };
	int r = stream(cfg, sprite, path, NULL, what, id, &f);
	free(f.complete);
	free(f.error);
	free(path);
	free(ipath);
	return r;
}

static int list(const struct sprite_config *cfg, const char *sprite)
{
	char *path = xasprintf("/v1/sprites/%s/checkpoints", sprite);
	struct api_response resp;
	char err[512], what[128];
	int rc = api_call(cfg, "GET", path, NULL, NULL, API_IDEMPOTENT, &resp, err, sizeof err);
	free(path);
	long st = rc < 0 ? 0 : resp.status;
	if (st != 200 || !json_is_array(resp.json)) {
		snprintf(what, sizeof what, "cannot list the checkpoints of sprite \"%s\"", sprite);
		if (st == 404)
			cli_sprite_not_found(sprite);
		else
			cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
		api_response_free(&resp);
		return EXIT_FAIL;
	}
	size_t i;
	json_t *cp;
	json_array_foreach(resp.json, i, cp)
		print_json_line(cp);
	api_response_free(&resp);
	return EXIT_OK;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "sprite", required_argument, NULL, 's' },
		{ "api", required_argument, NULL, 'a' },
		{ "comment", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sprite = getenv("SPRITE"), *api = NULL, *comment = NULL;
	int c;

	set_progname(argv[0]);
	/* A reader gone (| head) shows as EPIPE in print_json_line. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sprite = optarg; break;
		case 'a': api = optarg; break;
		case 'm': comment = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			cli_option_error(c, argv);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	int nargs = argc - optind - 1;
	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	int is_create = !strcmp(cmd, "create"), is_list = !strcmp(cmd, "list"),
	    is_restore = !strcmp(cmd, "restore");
	if (!is_create && !is_list && !is_restore) {
		warnx_("unknown command \"%s\": use create, list or restore", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (nargs != is_restore) {
		if (is_restore)
			warnx_("restore needs one checkpoint id (sprite-checkpoint -s %s list shows them)",
			       sprite && *sprite ? sprite : "SPRITE");
		else
			warnx_("%s takes no arguments", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (comment && !is_create)
		die(EXIT_USAGE, "-m COMMENT goes with create only");
	if (!sprite || !*sprite)
		die(EXIT_USAGE, "which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)");
	if (!valid_sprite_name(sprite))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, sprite);
	const char *id = is_restore ? argv[optind + 1] : NULL;
	if (id && (!*id || strchr(id, '/')))
		die(EXIT_USAGE, "bad checkpoint id \"%s\": use one sprite-checkpoint list shows (v0, v1, ...)",
		    id);

	struct sprite_config cfg;
	cli_config(&cfg, api);
	int r = is_create ? create(&cfg, sprite, comment) : is_list ? list(&cfg, sprite)
	                                                            : restore(&cfg, sprite, id);
	config_free(&cfg);
	return r;
}
