/* term.h: the local terminal for interactive sessions (sprite-exec -t). */
#ifndef SPRITE_TERM_H
#define SPRITE_TERM_H

#include <termios.h>

struct term {
	int fd;
	int raw;                 /* raw mode is on and must be undone */
	struct termios saved;
};

/* Put fd's terminal in raw mode (as ssh -t does); 0, or -1 if fd is not a
 * terminal.  term_restore undoes it and is safe to call more than once. */
int term_raw(struct term *t, int fd);
void term_restore(struct term *t);

/* The terminal's size; 0, or -1 (then *rows and *cols are left alone). */
int term_size(int fd, int *rows, int *cols);

#endif
