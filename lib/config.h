/* config.h: where the API is and which token to use, resolved the same way by
 * every command.
 *
 *   URL:   --api URL, else $SPRITES_API_URL;
 *   token: $SPRITES_TOKEN, else $SPRITE_TOKEN, else the file $SPRITES_TOKEN_FILE.
 *   With neither a URL nor a token: the local spritesd, whose URL and token are
 *   read from its state directory ($XDG_STATE_HOME/spritesd, by default
 *   ~/.local/state/spritesd: files "url" and "token").
 *   A token without a URL means the Fly.io API, https://api.sprites.dev.
 *   A URL without a token uses the local spritesd's token when the URL is the
 *   local spritesd's; otherwise it is an error.
 *
 * The token is never printed: messages name where it came from instead. */
#ifndef SPRITE_CONFIG_H
#define SPRITE_CONFIG_H

#include <stddef.h>

#define SPRITES_DEFAULT_API "https://api.sprites.dev"

struct sprite_config {
	char *api_url;      /* base URL without trailing '/', e.g. http://127.0.0.1:7321 */
	char *token;        /* bearer token */
	const char *token_source; /* "SPRITES_TOKEN", "the local spritesd", ... for messages */
	int local;          /* 1 when talking to the local spritesd found in its state dir */
};

/* The local spritesd's default state directory (malloc'd):
 * $XDG_STATE_HOME/spritesd, or $HOME/.local/state/spritesd. */
char *spritesd_default_statedir(void);

/* Resolve the configuration.  api_flag is the --api argument or NULL.
 * On failure returns -1 and writes a one-line message (without the program
 * name) that says what to do, e.g. "no local spritesd is running (start one
 * with `spritesd &`, or set SPRITES_TOKEN for Fly.io)". */
int config_resolve(struct sprite_config *cfg, const char *api_flag, char *err, size_t errlen);

void config_free(struct sprite_config *cfg);

/* The WebSocket base for the API: http -> ws, https -> wss (malloc'd). */
char *config_ws_url(const struct sprite_config *cfg);

/* Does url (http[s]://host[:port]...) name this machine (localhost, 127.x,
 * ::1)?  Used to suggest starting spritesd when such a URL does not answer. */
int config_url_is_loopback(const char *url);

#endif
