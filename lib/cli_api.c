/* cli_api.c: how every command reports a failed API call.  Apart from cli.c
 * so that commands which make no REST calls (sprite-exec) do not load libcurl. */
#include "cli.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_api_hopeless(long status) { return status == 0 || status == 401; }

void cli_api_fail(const char *what, const struct sprite_config *cfg, long status,
                  const struct api_response *resp, const char *err)
{
	if (!resp || status == 0) {
		/* A refused connection to a local server means spritesd is not started;
		 * other failures (TLS, timeouts) would make that advice misleading. */
		if (!err)
			err = "no answer";
		const char *refused = strerror(ECONNREFUSED);
		size_t n = strlen(err), rn = strlen(refused);
		int is_refused = n >= rn && !strcmp(err + n - rn, refused);
		if (is_refused && (cfg->local || config_url_is_loopback(cfg->api_url)))
			warnx_("%s (is spritesd running? start it with \"spritesd &\")", err);
		else
			warnx_("%s", err);
	} else if (status == 401 && cfg->local) {
		char *dir = spritesd_default_statedir();
		warnx_("the local spritesd at %s refused the token in %s/token (401): "
		       "restart spritesd to rewrite it",
		       cfg->api_url, dir);
		free(dir);
	} else if (status == 401) {
		warnx_("the API at %s refused the token from %s (401): check it", cfg->api_url,
		       cfg->token_source);
	} else if (status >= 200 && status < 300) {
		warnx_("%s: unexpected answer from %s (status %ld)", what, cfg->api_url, status);
	} else {
		char text[512];
		api_error_text(status, resp->body, resp->body_len, text, sizeof text);
		/* A line from a non-JSON body ("<html>") means little without the status. */
		if (!resp->json && strncmp(text, "API error (status", 17))
			warnx_("%s: %s (status %ld)", what, text, status);
		else
			warnx_("%s: %s", what, text);
	}
}

