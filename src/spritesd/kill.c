/* kill.c: POST /v1/sprites/NAME/exec/ID/kill.  Signals the session's
 * process group and streams NDJSON progress: signal, then exited, or after
 * the timeout SIGKILL and killed, then complete with the exit code.  410 when
 * the session has already ended. */
#include "spritesd.h"
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define KILL_GRACE_MS 5000 /* after SIGKILL, how long to wait for the exit */

static json_t *event(const char *type, const char *msg)
{
	return json_pack("{s:s, s:s}", "type", type, "message", msg);
}

static void done(struct conn *c, const char *type, const char *msg, int code, int have_code)
{
	struct session *s = c->kill_sess;
	if (type)
		http_stream_line(c, event(type, msg));
	json_t *complete = json_pack("{s:s}", "type", "complete");
	if (have_code)
		json_object_set_new(complete, "exit_code", json_integer(code));
	http_stream_line(c, complete);
	http_stream_end(c);
	lws_sul_cancel(&c->kill_sul);
	if (s)
		lws_dll2_remove(&c->kill_list);
	c->kill_sess = NULL;
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, kill_sul);
	struct session *s = c->kill_sess;
	if (!s)
		return;
	if (c->kill_phase == 0) {
		char msg[96];
		snprintf(msg, sizeof msg, "Timeout, sending SIGKILL to process group %s", s->id);
		http_stream_line(c, event("timeout", msg));
		c->kill_phase = 1;
		session_signal(s, SIGKILL);
		lws_sul_schedule(s->sprite->srv->context, 0, &c->kill_sul, timeout_cb,
		                 (lws_usec_t)KILL_GRACE_MS * LWS_US_PER_MS);
		return;
	}
	done(c, "error", "Warning: process may not have terminated", 0, 0);
}

int kill_request(struct lws *wsi, struct conn *c, struct session *s, int signo, long long timeout_ms)
{
	if (s->exited || s->finished) {
		char msg[96];
		snprintf(msg, sizeof msg, "session %s has already exited", s->id);
		return http_respond_error(wsi, c, 410, "gone", msg);
	}
	if (http_stream_begin(wsi, c, 200) < 0)
		return -1;
	const char *name = signal_name(signo);
	char sig[24], msg[128];
	if (name)
		snprintf(sig, sizeof sig, "SIG%s", name);
	else
		snprintf(sig, sizeof sig, "%d", signo);
	snprintf(msg, sizeof msg, "Signaling %s to process group %s", sig, s->id);
	http_stream_line(c, json_pack("{s:s, s:s, s:s, s:i}", "type", "signal", "message", msg,
	                              "signal", sig, "pid", (int)s->pid));
	session_signal(s, signo);
	c->kill_sess = s;
	c->kill_phase = signo == SIGKILL;
	lws_dll2_add_tail(&c->kill_list, &s->killers);
	if (timeout_ms == 0 && signo != SIGKILL) {
		/* timeout=0: signal and do not wait. */
		done(c, NULL, NULL, 0, 0);
		return 0;
	}
	lws_sul_schedule(s->sprite->srv->context, 0, &c->kill_sul, timeout_cb,
	                 (lws_usec_t)(c->kill_phase ? KILL_GRACE_MS : timeout_ms) * LWS_US_PER_MS);
	return 0;
}

void kill_requests_finish(struct session *s)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&s->killers)) {
		struct conn *c = lws_container_of(p, struct conn, kill_list);
		if (c->kill_phase)
			done(c, "killed", "Process killed", s->exit_code, 1);
		else
			done(c, "exited", "Process exited", s->exit_code, 1);
	} lws_end_foreach_dll_safe(p, p1);
}

void kill_request_closed(struct conn *c)
{
	if (!c->kill_sess)
		return;
	lws_sul_cancel(&c->kill_sul);
	lws_dll2_remove(&c->kill_list);
	c->kill_sess = NULL;
}
