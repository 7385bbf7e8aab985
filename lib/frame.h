/* frame.h: the Sprites exec WebSocket framing.
 *
 * Non-TTY binary messages carry one chunk each, prefixed by a stream id byte:
 * 0x00 stdin (C->S), 0x01 stdout, 0x02 stderr, 0x03 exit (one status byte),
 * 0x04 stdin EOF (C->S, no payload).  TTY binary messages are raw terminal
 * bytes.  Text messages are JSON: session_info, exit, resize, signal.
 *
 * A WebSocket message may reach us in several pieces (fragmented frames, or
 * one frame split by the receive buffer).  struct frame_rx reassembles: the
 * stream id is the first byte of a message, not of a piece; text messages
 * are collected whole before they are parsed. */
#ifndef SPRITE_FRAME_H
#define SPRITE_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum stream_id {
	STREAM_STDIN = 0x00,
	STREAM_STDOUT = 0x01,
	STREAM_STDERR = 0x02,
	STREAM_EXIT = 0x03,
	STREAM_STDIN_EOF = 0x04,
};

/* Largest data chunk we put in one message (the spec recommends <= 32 KiB). */
#define FRAME_CHUNK (32 * 1024)
/* Largest text (JSON) message we accept. */
#define FRAME_TEXT_MAX (64 * 1024)

/* What a receiver does with reassembled input. */
struct frame_sink {
	/* A piece of binary data.  stream is the message's id byte (non-TTY), or
	 * -1 for raw TTY data.  Pieces of one message arrive in order; an empty
	 * non-TTY message (id byte only, e.g. stdin EOF or exit 0) is delivered
	 * once with len 0. */
	void (*data)(void *arg, int stream, const uint8_t *buf, size_t len);
	/* A whole text message (NUL-terminated), or NULL when it exceeded
	 * FRAME_TEXT_MAX (the rest of it is dropped). */
	void (*text)(void *arg, const char *msg, size_t len);
	void *arg;
};

struct frame_rx {
	int tty;          /* binary messages are raw (no id byte) */
	int in_message;   /* inside a message whose first piece we have seen */
	int binary;       /* the current message is binary */
	int stream;       /* the current binary message's id, -1 until seen */
	int delivered;    /* some payload of the current message was delivered */
	int overflow;     /* the current text message is too long */
	char *text;       /* text being collected */
	size_t text_len, text_cap;
};

void frame_rx_init(struct frame_rx *rx, int tty);
void frame_rx_free(struct frame_rx *rx);

/* Feed one received piece.  binary: the message is binary; last: this piece
 * ends the message (final fragment and nothing left of the frame). */
void frame_rx_feed(struct frame_rx *rx, const struct frame_sink *sink,
                   const uint8_t *buf, size_t len, int binary, int last);

/* Write a non-TTY message into out (id byte + payload); out must have
 * room for len + 1 bytes.  Returns the message length. */
size_t frame_encode(uint8_t *out, enum stream_id id, const void *payload, size_t len);

/* Text messages (malloc'd JSON strings). */
char *frame_session_info(const char *session_id, const char *command, long long created,
                         int cols, int rows, int is_owner, int tty);
char *frame_exit_msg(int code);
char *frame_resize_msg(int cols, int rows);
char *frame_signal_msg(const char *signame);

/* Parse a text message.  Returns its "type" (static string from the known
 * set: "session_info", "exit", "resize", "signal", "port_opened",
 * "port_closed"), "other" for unknown JSON, or NULL when it is not JSON. */
struct frame_text {
	char session_id[64];   /* session_info: string or number, as text */
	int tty, is_owner;     /* session_info */
	int exit_code;         /* exit */
	int cols, rows;        /* resize, session_info */
	char signal[16];       /* signal, without any "SIG" prefix */
};
const char *frame_parse_text(const char *msg, size_t len, struct frame_text *out);

/* Signal names as the protocol carries them ("TERM", "SIGTERM", "15"). */
int signal_from_name(const char *name);   /* -1 when unknown */
const char *signal_name(int signo);       /* "TERM", or NULL */

#endif
