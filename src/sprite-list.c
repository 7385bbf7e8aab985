/* sprite-list: print every sprite as one JSON line, following pagination. */
#include "api.h"
#include "cli.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--api URL] [--prefix PREFIX]\n", progname());
}

/* Print one page; returns the continuation token (malloc'd) or NULL at the end. */
static char *print_page(json_t *page, const char *api_url)
{
	json_t *sprites = json_object_get(page, "sprites");
	if (!json_is_array(sprites))
		die(EXIT_FAIL, "cannot list sprites: the answer from %s has no \"sprites\" list", api_url);
	size_t i;
	json_t *s;
	json_array_foreach(sprites, i, s)
		print_json_line(s);
	const char *next = json_string_value(json_object_get(page, "next_continuation_token"));
	if (!json_is_true(json_object_get(page, "has_more")) || !next || !*next)
		return NULL;
	return xstrdup(next);
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "api", required_argument, NULL, 'a' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *api = NULL, *prefix = NULL;
	int c;

	set_progname(argv[0]);
	/* A closed stdout (`| head`) is EPIPE for print_json_line, which exits 0. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': api = optarg; break;
		case 'p': prefix = optarg; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		default:
			cli_option_error(c, argv);
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(EXIT_USAGE);
	}

	struct sprite_config cfg;
	cli_config(&cfg, api);
	char *token = NULL;
	int status = EXIT_OK;
	do {
		struct query q;
		query_init(&q);
		/* 50: the most Fly's documentation promises a page holds (1-50;
		 * later specifications allow more, with 50 the default). */
		query_add(&q, "max_results", "50");
		if (prefix && *prefix)
			query_add(&q, "prefix", prefix);
		if (token)
			query_add(&q, "continuation_token", token);

		struct api_response resp;
		char err[1024];
		int rc = api_call(&cfg, "GET", "/v1/sprites", &q, NULL, API_IDEMPOTENT, &resp, err,
		                  sizeof err);
		query_free(&q);
		char *next = NULL;
		if (rc < 0 || resp.status != 200) {
			cli_api_fail("cannot list sprites", &cfg, resp.status, &resp, err);
			status = EXIT_FAIL;
		} else {
			next = print_page(resp.json, cfg.api_url);
			/* A server handing back the same token would have us loop forever. */
			if (next && token && !strcmp(next, token)) {
				warnx_("cannot list sprites: %s repeated a continuation token", cfg.api_url);
				free(next);
				next = NULL;
				status = EXIT_FAIL;
			}
		}
		api_response_free(&resp);
		free(token);
		token = next;
	} while (token);
	config_free(&cfg);
	return status;
}
