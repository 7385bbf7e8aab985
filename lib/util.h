/* util.h: small helpers every command shares (messages, memory, files, output). */
#ifndef SPRITE_UTIL_H
#define SPRITE_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <jansson.h>

/* Exit statuses shared by every command. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The program name used in every message; set once by main(). */
void set_progname(const char *argv0);
const char *progname(void);

/* "prog: message" on stderr. */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: message" on stderr, then exit(status). */
_Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read a whole file (at most max bytes) into a NUL-terminated buffer.
 * Returns NULL with errno set on failure; *len gets the length if non-NULL. */
char *read_file(const char *path, size_t max, size_t *len);

/* Write text to an existing file (a /proc or cgroup knob) in one write(2).
 * 0, or -1 with errno set. */
int write_to(const char *path, const char *text);
/* mkdir -p: 0, or -1 with errno. */
int mkdir_p(const char *path, mode_t mode);

/* Remove trailing whitespace in place; returns s. */
char *rtrim(char *s);

/* write(2) until done; retries EINTR and waits out EAGAIN. 0 or -1 (errno). */
int write_all(int fd, const void *buf, size_t len);

/* Print one compact JSON object as a line on stdout and flush.  When stdout is
 * closed (EPIPE: the reader went away, as with `| head`) the command exits 0
 * quietly: there is nobody left to tell. */
void print_json_line(json_t *obj);

/* Is s a valid sprite name (^[a-z0-9][a-z0-9-]{0,62}$)? */
int valid_sprite_name(const char *s);
/* What to say about an invalid one, after `invalid sprite name "X": `. */
#define SPRITE_NAME_RULE "use 1-63 lowercase letters, digits and '-', starting with a letter or digit"

/* A copy of s fit for a JSON string: invalid UTF-8 sequences become U+FFFD
 * (malloc'd). */
char *utf8_lossy(const char *s);
/* s[0..n) made harmless for a terminal or a log: printable ASCII kept, every
 * other byte (escapes, C1 controls, UTF-8) and the backslash as \xHH; cut to
 * fit outlen.  Returns out. */
char *log_safe(const char *s, size_t n, char *out, size_t outlen);

/* Milliseconds from a monotonic clock. */
long long now_ms(void);

#endif
