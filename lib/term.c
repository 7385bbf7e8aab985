/* term.c: raw mode and window size of the local terminal. */
#include "term.h"

#include <sys/ioctl.h>
#include <unistd.h>

int term_raw(struct term *t, int fd)
{
	t->fd = fd;
	t->raw = 0;
	if (!isatty(fd) || tcgetattr(fd, &t->saved) < 0)
		return -1;
	struct termios raw = t->saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return -1;
	t->raw = 1;
	return 0;
}

void term_restore(struct term *t)
{
	if (t->raw) {
		tcsetattr(t->fd, TCSADRAIN, &t->saved);
		t->raw = 0;
	}
}

int term_size(int fd, int *rows, int *cols)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return -1;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}
