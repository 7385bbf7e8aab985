/* netns.c: a listening socket inside a sandbox's network namespace.
 *
 * A socket belongs to the namespace it was made in, wherever it is used
 * afterwards.  So a short-lived child joins the sandbox's network namespace
 * (and first its user namespace when it has one: setns into a user
 * namespace needs a single-threaded process, and spritesd's own namespaces
 * must not change), listens, and passes the socket back over a socketpair
 * (SCM_RIGHTS); spritesd then serves it from its event loop like any other
 * socket. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct listen_report {
	int32_t err;
	char msg[200];
};

static _Noreturn void listen_child(const struct sandbox *sb, int port, int chan)
{
	struct listen_report r = { 0, "" };
	int fd = -1, one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (sb->ns_fds[NS_USER] >= 0 && setns(sb->ns_fds[NS_USER], CLONE_NEWUSER) < 0)
		snprintf(r.msg, sizeof r.msg, "cannot enter the sandbox's user namespace: %s", strerror(r.err = errno));
	else if (setns(sb->ns_fds[NS_NET], CLONE_NEWNET) < 0)
		snprintf(r.msg, sizeof r.msg, "cannot enter the sandbox's network namespace: %s", strerror(r.err = errno));
	else if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	         setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	         bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 128) < 0)
		snprintf(r.msg, sizeof r.msg, "cannot listen on 127.0.0.1:%d in the sandbox: %s", port,
		         strerror(r.err = errno));
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { &r, sizeof r };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (!r.err) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof cm.buf;
		struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof fd);
	}
	(void)!sendmsg(chan, &msg, MSG_NOSIGNAL);
	_exit(0);
}

int netns_listen(const struct sandbox *sb, int port, char *err, size_t errlen)
{
	if (sb->ns_fds[NS_NET] < 0) {
		snprintf(err, errlen, "the sandbox shares spritesd's network namespace");
		return -1;
	}
	int chan[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(chan[0]);
		listen_child(sb, port, chan[1]);
	}
	close(chan[1]);
	if (pid < 0) {
		close(chan[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	struct listen_report r;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { &r, sizeof r };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
	                      .msg_controllen = sizeof cm.buf };
	ssize_t n;
	do
		n = recvmsg(chan[0], &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	close(chan[0]);
	waitpid(pid, NULL, 0);
	int fd = -1;
	struct cmsghdr *h = n == (ssize_t)sizeof r ? CMSG_FIRSTHDR(&msg) : NULL;
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(h), sizeof fd);
	if (fd >= 0)
		return fd;
	r.msg[sizeof r.msg - 1] = '\0';
	snprintf(err, errlen, "%s", n == (ssize_t)sizeof r && r.err ? r.msg : "the helper joining the sandbox died");
	return -1;
}
