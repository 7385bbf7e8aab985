/* cli.c: messages every command words the same way (see cli.h). */
#include "cli.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_config(struct sprite_config *cfg, const char *api_flag)
{
	char err[1024];
	if (config_resolve(cfg, api_flag, err, sizeof err) < 0)
		die(EXIT_FAIL, "%s", err);
	return 0;
}

void cli_option_error(int c, char *const argv[])
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	if (c == ':')
		warnx_("option %s needs an argument", arg);
	else if (optopt)
		warnx_("unknown option -%c", optopt);
	else
		warnx_("unknown option %s", arg);
}

void cli_sprite_not_found(const char *sprite)
{
	warnx_("sprite \"%s\" not found (sprite-list shows what exists)", sprite);
}
