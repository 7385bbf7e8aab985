/* t-frame: the exec WebSocket framing (spec sections 3.4-3.6): encoding,
 * reassembly of messages that arrive in pieces, text messages, signals. */
#include "frame.h"
#include "tap.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a sink that records what frame_rx_feed delivers ---- */

#define MAX_EVENTS 16

struct event {
	int is_text;
	int stream;        /* data events */
	int null_text;     /* text event delivered as NULL */
	size_t len;
	uint8_t *buf;      /* a copy (len bytes, plus a NUL) */
};

struct rec {
	struct event ev[MAX_EVENTS];
	int n;
};

static void push(struct rec *r, int is_text, int stream, const void *buf, size_t len, int null_text)
{
	if (r->n >= MAX_EVENTS)
		return;
	struct event *e = &r->ev[r->n++];
	e->is_text = is_text;
	e->stream = stream;
	e->null_text = null_text;
	e->len = len;
	e->buf = malloc(len + 1);
	if (len)
		memcpy(e->buf, buf, len);
	e->buf[len] = '\0';
}

static void on_data(void *arg, int stream, const uint8_t *buf, size_t len)
{
	push(arg, 0, stream, buf, len, 0);
}

static void on_text(void *arg, const char *msg, size_t len)
{
	push(arg, 1, 0, msg, msg ? len : 0, msg == NULL);
}

static void rec_reset(struct rec *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->ev[i].buf);
	r->n = 0;
}

/* Feed one piece given as (buf, len). */
static void feed(struct frame_rx *rx, struct rec *r, const void *buf, size_t len, int binary, int last)
{
	struct frame_sink sink = { on_data, on_text, r };
	frame_rx_feed(rx, &sink, buf, len, binary, last);
}

/* Is event i a data event of this stream with exactly these bytes? */
static int is_data(const struct rec *r, int i, int stream, const void *want, size_t len)
{
	if (i >= r->n)
		return 0;
	const struct event *e = &r->ev[i];
	return !e->is_text && e->stream == stream && e->len == len && !memcmp(e->buf, want, len);
}

/* ---- tests ---- */

static void test_encode(void)
{
	uint8_t out[16];
	size_t n;

	n = frame_encode(out, STREAM_STDIN, "ls\n", 3);
	ok(n == 4 && !memcmp(out, "\x00ls\n", 4), "frame_encode stdin: 00 6c 73 0a");
	n = frame_encode(out, STREAM_STDOUT, "foo\n", 4);
	ok(n == 5 && !memcmp(out, "\x01" "foo\n", 5), "frame_encode stdout: 01 66 6f 6f 0a");
	n = frame_encode(out, STREAM_STDERR, "e", 1);
	ok(n == 2 && !memcmp(out, "\x02" "e", 2), "frame_encode stderr: 02 65");
	n = frame_encode(out, STREAM_EXIT, "\x00", 1);
	ok(n == 2 && !memcmp(out, "\x03\x00", 2), "frame_encode exit 0: 03 00");
	n = frame_encode(out, STREAM_EXIT, "\xff", 1);
	ok(n == 2 && !memcmp(out, "\x03\xff", 2), "frame_encode exit 255: 03 ff");
	memset(out, 0xaa, sizeof out);
	n = frame_encode(out, STREAM_STDIN_EOF, NULL, 0);
	ok(n == 1 && out[0] == 0x04 && out[1] == 0xaa, "frame_encode stdin EOF: 04 alone, nothing written past it");
	n = frame_encode(out, STREAM_STDOUT, "", 0);
	ok(n == 1 && out[0] == 0x01, "frame_encode with an empty payload is the id byte alone");
}

static void test_whole_messages(void)
{
	struct frame_rx rx;
	struct rec r = { .n = 0 };
	frame_rx_init(&rx, 0);

	feed(&rx, &r, "\x01hello", 6, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDOUT, "hello", 5), "whole stdout message: one delivery, id stripped");
	rec_reset(&r);

	feed(&rx, &r, "\x02oops\n", 6, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDERR, "oops\n", 5), "whole stderr message");
	rec_reset(&r);

	feed(&rx, &r, "\x01" "a\0b", 4, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDOUT, "a\0b", 3), "a NUL byte in the payload is data");
	rec_reset(&r);

	feed(&rx, &r, "\x03\x07", 2, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_EXIT, "\x07", 1), "exit with one byte: stream 3, the status byte");
	rec_reset(&r);

	feed(&rx, &r, "\x03", 1, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_EXIT, "", 0), "exit with an empty payload: delivered once, len 0");
	rec_reset(&r);

	feed(&rx, &r, "\x04", 1, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDIN_EOF, "", 0), "stdin EOF: delivered once, len 0");
	rec_reset(&r);

	feed(&rx, &r, "\x00in", 3, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDIN, "in", 2), "stdin message (id 0) keeps its stream");
	rec_reset(&r);

	feed(&rx, &r, "\x09zz", 3, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, 9, "zz", 2), "an unknown id is passed on with its stream (the receiver ignores it)");
	rec_reset(&r);

	frame_rx_free(&rx);
}

static void test_split_messages(void)
{
	struct frame_rx rx;
	struct rec r = { .n = 0 };
	frame_rx_init(&rx, 0);

	feed(&rx, &r, "\x01he", 3, 1, 0);
	feed(&rx, &r, "\x02l", 2, 1, 0);
	feed(&rx, &r, "lo", 2, 1, 1);
	ok(r.n == 3, "split stdout message: one delivery per non-empty piece (got %d)", r.n);
	ok(is_data(&r, 0, STREAM_STDOUT, "he", 2), "first piece: id byte stripped");
	ok(is_data(&r, 1, STREAM_STDOUT, "\x02l", 2), "second piece: its first byte 0x02 is data, stream still stdout");
	ok(is_data(&r, 2, STREAM_STDOUT, "lo", 2), "third piece in order, stream stdout");
	rec_reset(&r);

	/* The next message starts afresh: its first byte is an id again. */
	feed(&rx, &r, "\x02" "err", 4, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDERR, "err", 3), "after a split message the next one reads its own id");
	rec_reset(&r);

	/* The id byte alone in the first piece. */
	feed(&rx, &r, "\x02", 1, 1, 0);
	feed(&rx, &r, "xy", 2, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDERR, "xy", 2), "id byte alone in the first piece: no empty delivery, data follows");
	rec_reset(&r);

	/* An empty piece in the middle and an empty last piece add nothing. */
	feed(&rx, &r, "\x01" "a", 2, 1, 0);
	feed(&rx, &r, "", 0, 1, 0);
	feed(&rx, &r, "b", 1, 1, 0);
	feed(&rx, &r, "", 0, 1, 1);
	ok(r.n == 2 && is_data(&r, 0, STREAM_STDOUT, "a", 1) && is_data(&r, 1, STREAM_STDOUT, "b", 1),
	   "empty middle and last pieces deliver nothing extra (got %d)", r.n);
	rec_reset(&r);

	/* An exit split as id / status byte. */
	feed(&rx, &r, "\x03", 1, 1, 0);
	feed(&rx, &r, "\x05", 1, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_EXIT, "\x05", 1), "exit split after its id: status byte delivered once");
	rec_reset(&r);

	/* An id-only message whose end comes as an empty last piece. */
	feed(&rx, &r, "\x04", 1, 1, 0);
	feed(&rx, &r, "", 0, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDIN_EOF, "", 0), "id-only message ended by an empty piece: delivered once, len 0");
	rec_reset(&r);

	/* A zero-length first piece, then the id byte in the next one. */
	feed(&rx, &r, "", 0, 1, 0);
	feed(&rx, &r, "\x02" "late", 5, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDERR, "late", 4), "zero-length first piece: the id is the next piece's first byte");
	rec_reset(&r);

	feed(&rx, &r, "", 0, 1, 0);
	feed(&rx, &r, "\x03", 1, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_EXIT, "", 0), "zero-length first piece then a lone exit id: delivered once, len 0");
	rec_reset(&r);

	/* A zero-length whole message says nothing. */
	feed(&rx, &r, "", 0, 1, 1);
	ok(r.n == 0, "zero-length whole message ignored (got %d deliveries)", r.n);
	feed(&rx, &r, "\x01ok", 3, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDOUT, "ok", 2), "the message after an empty one is read normally");
	rec_reset(&r);

	frame_rx_free(&rx);
}

static void test_tty(void)
{
	struct frame_rx rx;
	struct rec r = { .n = 0 };
	frame_rx_init(&rx, 1);

	feed(&rx, &r, "\x01" "abc", 4, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, -1, "\x01" "abc", 4), "TTY: no id byte (0x01 kept as data), stream -1");
	rec_reset(&r);

	feed(&rx, &r, "\x03", 1, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, -1, "\x03", 1), "TTY: a lone 0x03 is a byte of data, not an exit");
	rec_reset(&r);

	feed(&rx, &r, "ab", 2, 1, 0);
	feed(&rx, &r, "cd", 2, 1, 1);
	ok(r.n == 2 && is_data(&r, 0, -1, "ab", 2) && is_data(&r, 1, -1, "cd", 2), "TTY: split message delivered in order");
	rec_reset(&r);

	feed(&rx, &r, "", 0, 1, 1);
	ok(r.n == 0, "TTY: zero-length message ignored (got %d)", r.n);

	feed(&rx, &r, "{\"type\":\"exit\",\"exit_code\":0}", 29, 0, 1);
	ok(r.n == 1 && r.ev[0].is_text && !strcmp((char *)r.ev[0].buf, "{\"type\":\"exit\",\"exit_code\":0}"),
	   "TTY: text messages still delivered as text");
	rec_reset(&r);

	frame_rx_free(&rx);
}

static void test_text(void)
{
	struct frame_rx rx;
	struct rec r = { .n = 0 };
	frame_rx_init(&rx, 0);
	const char *whole = "{\"type\":\"exit\",\"exit_code\":3}";

	feed(&rx, &r, whole, 8, 0, 0);
	ok(r.n == 0, "text: nothing delivered before the last piece");
	feed(&rx, &r, whole + 8, 10, 0, 0);
	feed(&rx, &r, whole + 18, strlen(whole) - 18, 0, 1);
	ok(r.n == 1 && r.ev[0].is_text && r.ev[0].len == strlen(whole) && !strcmp((char *)r.ev[0].buf, whole),
	   "text split in three pieces delivered whole, once");
	rec_reset(&r);

	feed(&rx, &r, "{\"a\":1}", 7, 0, 1);
	ok(r.n == 1 && r.ev[0].len == 7 && !strcmp((char *)r.ev[0].buf, "{\"a\":1}"),
	   "the next text message does not carry the previous one's bytes");
	rec_reset(&r);

	/* Exactly FRAME_TEXT_MAX is accepted. */
	char *big = malloc(FRAME_TEXT_MAX + 2);
	memset(big, 'x', FRAME_TEXT_MAX + 1);
	big[FRAME_TEXT_MAX + 1] = '\0';
	feed(&rx, &r, big, FRAME_TEXT_MAX / 2, 0, 0);
	feed(&rx, &r, big, FRAME_TEXT_MAX - FRAME_TEXT_MAX / 2, 0, 1);
	ok(r.n == 1 && !r.ev[0].null_text && r.ev[0].len == FRAME_TEXT_MAX,
	   "a text message of exactly FRAME_TEXT_MAX bytes is delivered");
	rec_reset(&r);

	/* One byte more is too long: NULL, and the rest of it is dropped. */
	feed(&rx, &r, big, FRAME_TEXT_MAX / 2, 0, 0);
	feed(&rx, &r, big, FRAME_TEXT_MAX / 2, 0, 0);
	feed(&rx, &r, "y", 1, 0, 0);
	feed(&rx, &r, big, 100, 0, 1);
	ok(r.n == 1 && r.ev[0].is_text && r.ev[0].null_text, "a text message over FRAME_TEXT_MAX is delivered once, as NULL");
	rec_reset(&r);

	feed(&rx, &r, "{\"b\":2}", 7, 0, 1);
	ok(r.n == 1 && !r.ev[0].null_text && !strcmp((char *)r.ev[0].buf, "{\"b\":2}"),
	   "the text message after an oversized one is fine");
	rec_reset(&r);

	feed(&rx, &r, big, FRAME_TEXT_MAX + 1, 0, 1);
	ok(r.n == 1 && r.ev[0].null_text, "an oversized text message in one piece is NULL too");
	rec_reset(&r);
	feed(&rx, &r, "\x01" "after", 6, 1, 1);
	ok(r.n == 1 && is_data(&r, 0, STREAM_STDOUT, "after", 5), "a binary message after an oversized text is fine");
	rec_reset(&r);
	free(big);

	frame_rx_free(&rx);
}

static void test_parse(void)
{
	struct frame_text t;
	const char *type;
	const char *si = "{\"type\":\"session_info\",\"session_id\":\"1847\",\"command\":\"echo hello\","
	                 "\"created\":1767609000,\"cols\":0,\"rows\":0,\"is_owner\":true,\"tty\":false}";

	type = frame_parse_text(si, strlen(si), &t);
	is_str(type, "session_info", "session_info type");
	is_str(t.session_id, "1847", "session_info: string session_id");
	ok(t.is_owner == 1 && t.tty == 0, "session_info: is_owner true, tty false");

	const char *si2 = "{\"type\":\"session_info\",\"session_id\":19,\"command\":\"bash\","
	                  "\"created\":1,\"cols\":120,\"rows\":40,\"is_owner\":false,\"tty\":true}";
	type = frame_parse_text(si2, strlen(si2), &t);
	is_str(type, "session_info", "session_info with a numeric session_id");
	is_str(t.session_id, "19", "numeric session_id 19 becomes \"19\"");
	ok(t.tty == 1 && t.is_owner == 0 && t.cols == 120 && t.rows == 40, "session_info: tty, owner, size");

	const char *ex = "{\"type\":\"exit\",\"exit_code\":42}";
	type = frame_parse_text(ex, strlen(ex), &t);
	is_str(type, "exit", "exit type");
	is_int(t.exit_code, 42, "exit_code");

	const char *rs = "{\"type\":\"resize\",\"cols\":132,\"rows\":50}";
	type = frame_parse_text(rs, strlen(rs), &t);
	is_str(type, "resize", "resize type");
	ok(t.cols == 132 && t.rows == 50, "resize cols 132, rows 50");
	/* Out of an int's range: casting it would be undefined; not a size. */
	const char *huge = "{\"type\":\"resize\",\"cols\":1e300,\"rows\":99999999999}";
	type = frame_parse_text(huge, strlen(huge), &t);
	ok(type && t.cols <= 0 && t.rows <= 0, "resize with 1e300 and 99999999999: neither taken (%d, %d)", t.cols, t.rows);
	const char *strs = "{\"type\":\"resize\",\"cols\":\"80\",\"rows\":\"99999999999999999999\"}";
	type = frame_parse_text(strs, strlen(strs), &t);
	ok(type && t.cols == 80 && t.rows <= 0, "sizes as strings: \"80\" taken, an overflowing one not (%d, %d)", t.cols, t.rows);

	const char *sg = "{\"type\":\"signal\",\"signal\":\"SIGTERM\"}";
	type = frame_parse_text(sg, strlen(sg), &t);
	is_str(type, "signal", "signal type");
	is_str(t.signal, "TERM", "signal \"SIGTERM\" -> \"TERM\"");
	const char *sg2 = "{\"type\":\"signal\",\"signal\":\"INT\"}";
	frame_parse_text(sg2, strlen(sg2), &t);
	is_str(t.signal, "INT", "signal \"INT\" stays \"INT\"");

	/* Only len bytes count: a valid message followed by junk in the buffer. */
	const char *withtail = "{\"type\":\"exit\",\"exit_code\":1}GARBAGE";
	type = frame_parse_text(withtail, 29, &t);
	is_str(type, "exit", "only len bytes are parsed");

	type = frame_parse_text("not json", 8, &t);
	is_str(type, NULL, "non-JSON -> NULL");
	type = frame_parse_text("{\"type\":", 8, &t);
	is_str(type, NULL, "truncated JSON -> NULL");
	const char *unk = "{\"type\":\"mystery\",\"x\":1}";
	type = frame_parse_text(unk, strlen(unk), &t);
	is_str(type, "other", "unknown type -> \"other\"");
	type = frame_parse_text("{\"x\":1}", 7, &t);
	is_str(type, "other", "JSON without a type -> \"other\"");
	const char *po = "{\"type\":\"port_opened\",\"port\":8080,\"address\":\"127.0.0.1\",\"pid\":12}";
	type = frame_parse_text(po, strlen(po), &t);
	is_str(type, "port_opened", "port_opened is a known type");
}

static void test_signals(void)
{
	is_int(signal_from_name("TERM"), SIGTERM, "signal_from_name(\"TERM\")");
	is_int(signal_from_name("SIGINT"), SIGINT, "signal_from_name(\"SIGINT\")");
	is_int(signal_from_name("9"), 9, "signal_from_name(\"9\")");
	is_int(signal_from_name("bogus"), -1, "signal_from_name(\"bogus\") is -1");
	is_int(signal_from_name(""), -1, "signal_from_name(\"\") is -1");
	is_int(signal_from_name(NULL), -1, "signal_from_name(NULL) is -1");
	is_int(signal_from_name("9x"), -1, "signal_from_name(\"9x\") is -1");
	is_str(signal_name(SIGTERM), "TERM", "signal_name(SIGTERM)");
	is_str(signal_name(SIGKILL), "KILL", "signal_name(SIGKILL)");
}

static void test_build(void)
{
	char *s;
	s = frame_session_info("1847", "echo hello", 1767609000LL, 0, 0, 1, 0);
	is_str(s, "{\"type\":\"session_info\",\"session_id\":\"1847\",\"command\":\"echo hello\","
	          "\"created\":1767609000,\"cols\":0,\"rows\":0,\"is_owner\":true,\"tty\":false}",
	       "frame_session_info: the spec's non-TTY example, session_id a string");
	free(s);
	s = frame_session_info("7", "bash", 1767609000LL, 80, 24, 0, 1);
	is_str(s, "{\"type\":\"session_info\",\"session_id\":\"7\",\"command\":\"bash\","
	          "\"created\":1767609000,\"cols\":80,\"rows\":24,\"is_owner\":false,\"tty\":true}",
	       "frame_session_info: TTY, not owner");
	free(s);
	s = frame_exit_msg(0);
	is_str(s, "{\"type\":\"exit\",\"exit_code\":0}", "frame_exit_msg(0)");
	free(s);
	s = frame_exit_msg(130);
	is_str(s, "{\"type\":\"exit\",\"exit_code\":130}", "frame_exit_msg(130)");
	free(s);
	s = frame_resize_msg(120, 40);
	is_str(s, "{\"type\":\"resize\",\"cols\":120,\"rows\":40}", "frame_resize_msg");
	free(s);
	s = frame_signal_msg("TERM");
	is_str(s, "{\"type\":\"signal\",\"signal\":\"TERM\"}", "frame_signal_msg");
	free(s);

	/* What we build, we parse back. */
	struct frame_text t;
	s = frame_session_info("42", "sleep 1", 5, 0, 0, 1, 0);
	ok(!strcmp(frame_parse_text(s, strlen(s), &t), "session_info") && !strcmp(t.session_id, "42") &&
	   t.is_owner == 1 && t.tty == 0, "frame_session_info round-trips through frame_parse_text");
	free(s);
}

int main(void)
{
	test_encode();
	test_whole_messages();
	test_split_messages();
	test_tty();
	test_text();
	test_parse();
	test_signals();
	test_build();
	plan(tap_n);
	return done_testing();
}
