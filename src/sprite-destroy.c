/* sprite-destroy: destroy the named sprites; quiet on success. */
#include "api.h"
#include "cli.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--api URL] NAME...\n", progname());
}

/* Destroy one sprite; returns the HTTP status (0 when no answer came). */
static long destroy(const struct sprite_config *cfg, const char *name)
{
	char *path_name = path_escape(name);
	char *path = xasprintf("/v1/sprites/%s", path_name);
	struct api_response resp;
	char err[1024];
	/* DELETE is idempotent: repeating it after a 429 cannot do harm. */
	int rc = api_call(cfg, "DELETE", path, NULL, NULL, API_IDEMPOTENT, &resp, err, sizeof err);
	long st = rc < 0 ? 0 : resp.status;
	if (st == 404) {
		cli_sprite_not_found(name);
	} else if (st != 200 && st != 204) {
		char *what = xasprintf("cannot destroy sprite \"%s\"", name);
		cli_api_fail(what, cfg, st, &resp, err);
		free(what);
	}
	api_response_free(&resp);
	free(path);
	free(path_name);
	return st;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "api", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *api = NULL;
	int c;

	set_progname(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': api = optarg; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		default:
			cli_option_error(c, argv);
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind == argc) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	/* Check every name before destroying any: a typo should not leave the
	 * command half done. */
	for (int i = optind; i < argc; i++)
		if (!valid_sprite_name(argv[i]))
			die(EXIT_USAGE, "invalid sprite name \"%s\": " SPRITE_NAME_RULE, argv[i]);

	struct sprite_config cfg;
	cli_config(&cfg, api);
	int status = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		long st = destroy(&cfg, argv[i]);
		if (st == 200 || st == 204)
			continue;
		status = EXIT_FAIL;
		/* Unreachable server or refused token: the other names would fail alike. */
		if (cli_api_hopeless(st))
			break;
	}
	config_free(&cfg);
	return status;
}
