/* init.c: a sprite's pid 1 (`spritesd --sprite-init`, run by bwrap with
 * --as-pid-1).  It holds the sandbox up and reaps the orphans that the
 * kernel hands to a PID namespace's init.
 *
 * It is ours rather than bwrap's own reaper because of who may touch it:
 * bwrap's reaper drops its capabilities and runs as the sprite's root, so
 * any process of the sprite could ptrace it, stop it or rewrite it through
 * /proc/1/mem.  This one keeps the capabilities bwrap leaves the command
 * (in the sprite's user namespace only), and the kernel lets a process
 * ptrace only a target whose capabilities are a subset of its own: sprite
 * processes have none.  It blocks every signal and takes each one off its
 * queue, reaping on SIGCHLD: what a sprite sends it does nothing. */
#include "spritesd.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int sprite_init(void)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_NAME, "sprite-init", 0, 0, 0);
	/* spritesd waits for this: the sandbox is built. */
	(void)!write(SPRITE_INIT_READY_FD, "ready\n", 6);
	syscall(SYS_close_range, 3, ~0U, 0);
	/* Every signal is blocked, so none ends it, and each is taken and
	 * dropped here: queued ones would otherwise pile up against the
	 * sprite's signal limit. */
	for (;;) {
		if (sigwaitinfo(&all, NULL) == SIGCHLD)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
	}
}
