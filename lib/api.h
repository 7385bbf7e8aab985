/* api.h: the Sprites REST API over libcurl, bodies as jansson JSON.
 *
 * Structured API errors ({"error":code,"message":text,...}) become one line;
 * 429 is retried after retry_after_seconds / Retry-After for idempotent calls;
 * GETs are retried with backoff on 502/503/504; connect timeout 10 s, request
 * timeout 30 s (create 120 s); TLS peers are verified (CA bundle from
 * $SSL_CERT_FILE when set, else the system's). */
#ifndef SPRITE_API_H
#define SPRITE_API_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "query.h"

struct api_response {
	long status;          /* HTTP status, 0 when no response arrived */
	char *body;           /* raw body, NUL-terminated (may contain NULs) */
	size_t body_len;
	json_t *json;         /* parsed body when it is JSON, else NULL */
	long retry_after;     /* seconds, -1 when absent */
	char *sprite_version; /* Sprite-Version header, or NULL */
};

enum api_flags {
	API_IDEMPOTENT = 1,   /* safe to retry on 429 / 5xx */
	API_LONG = 2,         /* long-running call: 120 s timeout instead of 30 s */
};

/* Perform METHOD base_url+path[?query] with an optional JSON body.
 * Returns 0 when a response arrived (any status; see resp->status), -1 when
 * none did (unreachable, timeout, TLS failure), with a one-line message in
 * err (e.g. "cannot reach http://127.0.0.1:7321: Connection refused"). */
int api_call(const struct sprite_config *cfg, const char *method, const char *path,
             const struct query *q, json_t *body, int flags,
             struct api_response *resp, char *err, size_t errlen);

/* Like api_call, but streams an NDJSON body: on_line is called for each
 * non-empty line (parsed JSON, or NULL when a line is not JSON) as it
 * arrives; no overall timeout.  resp->body holds only a non-2xx body. */
int api_stream(const struct sprite_config *cfg, const char *method, const char *path,
               const struct query *q, json_t *body,
               void (*on_line)(json_t *line, const char *raw, void *arg), void *arg,
               struct api_response *resp, char *err, size_t errlen);

void api_response_free(struct api_response *resp);

/* One line describing a non-2xx response: the API's "message" (and its
 * "error" code), or the whole non-JSON body, or "API error (status N)".
 * Writes into buf and returns it. */
const char *api_error_text(long status, const char *body, size_t body_len, char *buf, size_t len);

/* Retry delay in seconds for a 429: JSON retry_after_seconds, else the
 * Retry-After header value (pass -1 when absent), else 1. */
long api_retry_delay(const char *body, size_t body_len, long retry_after_header);

#endif
