/* sprite-policy: show or set a sprite's network policy.  See sprite-policy(1). */
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
	        "usage: %s [-s SPRITE] [--api URL] get\n"
	        "       %s [-s SPRITE] [--api URL] set [--defaults] [--allow HOST]... [--deny HOST]...\n"
	        "  -s SPRITE      the sprite (default: $SPRITE)\n"
	        "  get            print the policy as one JSON line\n"
	        "  set            set it: from the flags, or without them a policy document on stdin\n"
	        "  --allow HOST   allow HOST (example.com, *.example.com or *)\n"
	        "  --deny HOST    deny HOST\n"
	        "  --defaults     include the \"defaults\" preset (GitHub, npm, PyPI, Docker Hub, AI APIs)\n",
	        progname(), progname());
}

static int get(const struct sprite_config *cfg, const char *sprite)
{
	char *path = xasprintf("/v1/sprites/%s/policy/network", sprite);
	struct api_response resp;
	char err[512], what[160];
	int rc = api_call(cfg, "GET", path, NULL, NULL, API_IDEMPOTENT, &resp, err, sizeof err);
	free(path);
	long st = rc < 0 ? 0 : resp.status;
	int result = EXIT_OK;
	if (st == 404) {
		cli_sprite_not_found(sprite);
		result = EXIT_FAIL;
	} else if (st != 200 || !json_is_object(resp.json)) {
		snprintf(what, sizeof what, "cannot get the network policy of sprite \"%s\"", sprite);
		cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
		result = EXIT_FAIL;
	} else {
		print_json_line(resp.json);
	}
	api_response_free(&resp);
	return result;
}

static int set(const struct sprite_config *cfg, const char *sprite, json_t *doc)
{
	char *path = xasprintf("/v1/sprites/%s/policy/network", sprite);
	struct api_response resp;
	char err[512], what[160];
	int rc = api_call(cfg, "POST", path, NULL, doc, 0, &resp, err, sizeof err);
	free(path);
	long st = rc < 0 ? 0 : resp.status;
	int result = EXIT_OK;
	if (st == 404) {
		cli_sprite_not_found(sprite);
		result = EXIT_FAIL;
	} else if (st != 200 && st != 204) {
		snprintf(what, sizeof what, "cannot set the network policy of sprite \"%s\"", sprite);
		cli_api_fail(what, cfg, st, rc < 0 ? NULL : &resp, err);
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
		{ "allow", required_argument, NULL, 'A' },
		{ "deny", required_argument, NULL, 'D' },
		{ "defaults", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sprite = getenv("SPRITE"), *api = NULL;
	int c, defaults = 0;
	/* The rules the flags give, in their order (after the preset). */
	json_t *rules = json_array();

	set_progname(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sprite = optarg; break;
		case 'a': api = optarg; break;
		case 'A':
		case 'D':
			json_array_append_new(rules, json_pack("{s:s, s:s}", "domain", optarg, "action",
			                                       c == 'A' ? "allow" : "deny"));
			break;
		case 'd': defaults = 1; break;
		case 'h': usage(stdout); json_decref(rules); return EXIT_OK;
		default:
			cli_option_error(c, argv);
			usage(stderr);
			json_decref(rules);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		if (optind == argc)
			warnx_("get or set? (sprite-policy -h says more)");
		usage(stderr);
		json_decref(rules);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	int flags = defaults || json_array_size(rules);
	if (strcmp(cmd, "get") && strcmp(cmd, "set"))
		die(EXIT_USAGE, "unknown command \"%s\": use get or set", cmd);
	if (!strcmp(cmd, "get") && flags)
		die(EXIT_USAGE, "--allow, --deny and --defaults go with set, not get");
	if (!sprite || !*sprite)
		die(EXIT_USAGE, "which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)");
	if (!valid_sprite_name(sprite))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, sprite);

	json_t *doc = NULL;
	if (!strcmp(cmd, "set") && flags) {
		if (defaults)
			json_array_insert_new(rules, 0, json_pack("{s:s}", "include", "defaults"));
		doc = json_pack("{s:O}", "rules", rules);
	} else if (!strcmp(cmd, "set")) {
		json_error_t jerr;
		doc = json_loadf(stdin, 0, &jerr);
		if (!doc)
			die(EXIT_USAGE, "standard input is not a JSON policy document (%s, line %d): give one "
			    "like {\"rules\":[{\"domain\":\"example.com\",\"action\":\"allow\"}]}, or use --allow "
			    "and --deny", jerr.text, jerr.line);
	}
	json_decref(rules);

	struct sprite_config cfg;
	cli_config(&cfg, api);
	int r = doc ? set(&cfg, sprite, doc) : get(&cfg, sprite);
	json_decref(doc);
	config_free(&cfg);
	return r;
}
