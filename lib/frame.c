/* frame.c: the exec WebSocket framing (see frame.h). */
#include "frame.h"
#include "util.h"

#include <jansson.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void frame_rx_init(struct frame_rx *rx, int tty)
{
	memset(rx, 0, sizeof *rx);
	rx->tty = tty;
}

void frame_rx_free(struct frame_rx *rx)
{
	free(rx->text);
	rx->text = NULL;
	rx->text_len = rx->text_cap = 0;
}

static void text_piece(struct frame_rx *rx, const uint8_t *buf, size_t len)
{
	if (rx->overflow)
		return;
	if (rx->text_len + len > FRAME_TEXT_MAX) {
		rx->overflow = 1;
		return;
	}
	if (rx->text_len + len + 1 > rx->text_cap) {
		rx->text_cap = rx->text_len + len + 1 < 256 ? 256 : (rx->text_len + len + 1) * 2;
		rx->text = xrealloc(rx->text, rx->text_cap);
	}
	memcpy(rx->text + rx->text_len, buf, len);
	rx->text_len += len;
	rx->text[rx->text_len] = '\0';
}

void frame_rx_feed(struct frame_rx *rx, const struct frame_sink *sink,
                   const uint8_t *buf, size_t len, int binary, int last)
{
	if (!rx->in_message) {
		rx->in_message = 1;
		rx->binary = binary;
		rx->stream = -1;
		rx->delivered = 0;
		rx->overflow = 0;
		rx->text_len = 0;
	}
	if (rx->binary) {
		if (!rx->tty && rx->stream < 0 && len) {
			rx->stream = buf[0];
			buf++, len--;
		}
		if (len) {
			sink->data(sink->arg, rx->tty ? -1 : rx->stream, buf, len);
			rx->delivered = 1;
		}
		/* An id-only message (stdin EOF, an empty exit) is delivered once,
		 * empty; a zero-length message says nothing (websocket.go, runIO). */
		if (last && !rx->delivered && rx->stream >= 0)
			sink->data(sink->arg, rx->stream, buf, 0);
	} else {
		text_piece(rx, buf, len);
		if (last)
			sink->text(sink->arg, rx->overflow ? NULL : (rx->text ? rx->text : ""),
			           rx->overflow ? 0 : rx->text_len);
	}
	if (last)
		rx->in_message = 0;
}

size_t frame_encode(uint8_t *out, enum stream_id id, const void *payload, size_t len)
{
	out[0] = (uint8_t)id;
	if (len)
		memcpy(out + 1, payload, len);
	return len + 1;
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		die(EXIT_FAIL, "out of memory");
	return s;
}

char *frame_session_info(const char *session_id, const char *command, long long created,
                         int cols, int rows, int is_owner, int tty)
{
	return dump(json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:b, s:b}",
	                      "type", "session_info", "session_id", session_id,
	                      "command", command, "created", (json_int_t)created,
	                      "cols", cols, "rows", rows, "is_owner", is_owner, "tty", tty));
}

char *frame_exit_msg(int code)
{
	return dump(json_pack("{s:s, s:i}", "type", "exit", "exit_code", code));
}

char *frame_resize_msg(int cols, int rows)
{
	return dump(json_pack("{s:s, s:i, s:i}", "type", "resize", "cols", cols, "rows", rows));
}

char *frame_signal_msg(const char *signame)
{
	return dump(json_pack("{s:s, s:s}", "type", "signal", "signal", signame));
}

/* An int field, given as a number or a string of digits; dflt when it is
 * absent or not an int (out of range included: casting it is undefined). */
static int get_int(json_t *o, const char *key, int dflt)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		return i >= INT_MIN && i <= INT_MAX ? (int)i : dflt;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		return d >= INT_MIN && d <= INT_MAX ? (int)d : dflt;
	}
	if (json_is_string(v)) {
		char *end;
		errno = 0;
		long l = strtol(json_string_value(v), &end, 10);
		return !errno && end != json_string_value(v) && l >= INT_MIN && l <= INT_MAX ? (int)l : dflt;
	}
	return dflt;
}

const char *frame_parse_text(const char *msg, size_t len, struct frame_text *out)
{
	static const char *const known[] = { "session_info", "exit", "resize", "signal",
	                                     "port_opened", "port_closed" };
	memset(out, 0, sizeof *out);
	json_t *o = json_loadb(msg, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *result = "other";
	for (size_t i = 0; type && i < sizeof known / sizeof *known; i++)
		if (!strcmp(type, known[i]))
			result = known[i];

	json_t *sid = json_object_get(o, "session_id");
	if (json_is_string(sid))
		snprintf(out->session_id, sizeof out->session_id, "%s", json_string_value(sid));
	else if (json_is_integer(sid))
		snprintf(out->session_id, sizeof out->session_id, "%lld",
		         (long long)json_integer_value(sid));
	out->tty = json_is_true(json_object_get(o, "tty"));
	out->is_owner = json_is_true(json_object_get(o, "is_owner"));
	out->exit_code = get_int(o, "exit_code", 0);
	out->cols = get_int(o, "cols", 0);
	out->rows = get_int(o, "rows", 0);
	const char *sig = json_string_value(json_object_get(o, "signal"));
	if (sig) {
		if (!strncasecmp(sig, "SIG", 3))
			sig += 3;
		snprintf(out->signal, sizeof out->signal, "%s", sig);
	}
	json_decref(o);
	return result;
}

static const struct {
	const char *name;
	int signo;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "TERM", SIGTERM }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "STOP", SIGSTOP },
	{ "CONT", SIGCONT }, { "TSTP", SIGTSTP }, { "WINCH", SIGWINCH }, { "ALRM", SIGALRM },
	{ "PIPE", SIGPIPE }, { "ABRT", SIGABRT },
};

int signal_from_name(const char *name)
{
	if (!name || !*name)
		return -1;
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	if (name[0] >= '0' && name[0] <= '9') {
		char *end;
		long n = strtol(name, &end, 10);
		return (*end || n <= 0 || n >= 65) ? -1 : (int)n;
	}
	for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
		if (!strcasecmp(name, signals[i].name))
			return signals[i].signo;
	return -1;
}

const char *signal_name(int signo)
{
	for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
		if (signals[i].signo == signo)
			return signals[i].name;
	return NULL;
}
