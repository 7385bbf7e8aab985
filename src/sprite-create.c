/* sprite-create: create a sprite and print it as one JSON line. */
#include "api.h"
#include "cli.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--api URL] [--label LABEL]... [--ram-mb N] [--cpus N] [--storage-gb N]\n"
	        "       [--pids N] NAME\n", progname());
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "api", required_argument, NULL, 'a' },
		{ "label", required_argument, NULL, 'l' },
		{ "ram-mb", required_argument, NULL, 'r' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "storage-gb", required_argument, NULL, 's' },
		{ "pids", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *api = NULL;
	json_t *labels = json_array();
	json_t *config = json_object(); /* the sprite's own limits, as Fly's API names them */
	int c;

	set_progname(argv[0]);
	/* A closed stdout (`| head`) is EPIPE for print_json_line, which exits 0. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': api = optarg; break;
		case 'l':
			if (!*optarg) {
				warnx_("a label cannot be empty");
				usage(stderr);
				exit(EXIT_USAGE);
			}
			json_array_append_new(labels, json_string(optarg));
			break;
		case 'r': case 'c': case 's': case 'p': {
			char *end;
			double v = strtod(optarg, &end);
			int whole = c == 'r' || c == 'p';
			if (end == optarg || *end || !(v > 0) || v > 1e9 || (whole && v != (double)(long long)v)) {
				warnx_("bad --%s \"%s\": use a positive %snumber", c == 'r' ? "ram-mb" : c == 'c' ? "cpus" :
				       c == 's' ? "storage-gb" : "pids", optarg, whole ? "whole " : "");
				usage(stderr);
				exit(EXIT_USAGE);
			}
			const char *key = c == 'r' ? "ram_mb" : c == 'c' ? "cpus" : c == 's' ? "storage_gb" : "pids";
			json_object_set_new(config, key, whole ? json_integer((json_int_t)v) : json_real(v));
			break;
		}
		case 'h': usage(stdout); exit(EXIT_OK);
		default:
			cli_option_error(c, argv);
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	const char *name = argv[optind];
	/* Checked here so a typo costs no round trip and gets the rule, not a 400. */
	if (!valid_sprite_name(name))
		die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, name);

	struct sprite_config cfg;
	cli_config(&cfg, api);
	json_t *body = json_pack("{s:s}", "name", name);
	if (json_array_size(labels))
		json_object_set(body, "labels", labels);
	if (json_object_size(config))
		json_object_set(body, "config", config);

	struct api_response resp;
	char err[1024];
	char *what = xasprintf("cannot create sprite \"%s\"", name);
	/* Not idempotent: a retried create could make the sprite twice or fail on
	 * the first one's success, so no retry on 429. */
	int rc = api_call(&cfg, "POST", "/v1/sprites", NULL, body, API_LONG, &resp, err, sizeof err);
	int status = EXIT_OK;
	if (rc < 0 || resp.status != 201) {
		cli_api_fail(what, &cfg, resp.status, &resp, err);
		status = EXIT_FAIL;
	} else if (!json_is_object(resp.json)) {
		warnx_("created sprite \"%s\", but %s answered without a sprite object "
		       "(sprite-list shows it)", name, cfg.api_url);
		status = EXIT_FAIL;
	} else {
		print_json_line(resp.json);
	}
	api_response_free(&resp);
	free(what);
	json_decref(body);
	json_decref(labels);
	json_decref(config);
	config_free(&cfg);
	return status;
}
