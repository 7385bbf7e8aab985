/* cli.h: what every command says the same way: configuration failures, API
 * failures, an unreachable server, a refused token, bad options. */
#ifndef SPRITE_CLI_H
#define SPRITE_CLI_H

#include "api.h"
#include "config.h"

/* config_resolve, or die with status 1 and its message.  Returns 0. */
int cli_config(struct sprite_config *cfg, const char *api_flag);

/* Report a failed API call as one line on stderr ("prog: ..."); does not exit.
 * what says what failed ("cannot create sprite \"web\"").  With no response
 * (resp NULL or status 0) err is api_call's message, plus advice to start
 * spritesd when the server is local; 401 names the token's source; other
 * statuses give api_error_text. */
void cli_api_fail(const char *what, const struct sprite_config *cfg, long status,
                  const struct api_response *resp, const char *err);

/* Did the call fail in a way that every further call would too (no response,
 * or the token refused)?  Commands looping over names stop then. */
int cli_api_hopeless(long status);

/* Report a getopt_long error as "prog: unknown option --x" or "prog: option
 * --api needs an argument".  Call with getopt's return value when it is '?'
 * or ':' (optstring must start with ':' and opterr be 0). */
void cli_option_error(int c, char *const argv[]);

/* The API said 404 for a sprite: say so, and where to look. */
void cli_sprite_not_found(const char *sprite);

#endif
