/* diag_child.h - run a function in a child process and capture what it
 * prints and how it ends, for testing code that writes to stdout/stderr or
 * exits (diag.h, opt.h, progress.h, atomic.h).
 *
 * stdout and stderr are pipes, or stderr is a pseudo-terminal in raw mode
 * when CHILD_TTY is given (so isatty(2) holds and no "\n" -> "\r\n"
 * translation happens).  A function that returns makes the child exit(0),
 * so atexit handlers run as they would at the end of main().
 */
#ifndef LMPIPE_DIAG_CHILD_H
#define LMPIPE_DIAG_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

enum { CHILD_TTY = 1 };

struct child_result {
	int status;          /* from waitpid */
	char out[16384];     /* stdout, NUL-terminated (cut if longer) */
	char err[16384];     /* stderr */
	size_t out_len, err_len;
};

static inline int child_exit_code(const struct child_result *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

static inline int child_signal(const struct child_result *r)
{
	return WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0;
}

static inline void child_drain(int fd, char *buf, size_t cap, size_t *len, int *open_fd)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof tmp);

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		/* A pty master reads EIO once the slave side is closed. */
		close(fd);
		*open_fd = -1;
		return;
	}
	if (*len + (size_t)n > cap - 1)
		n = (ssize_t)(cap - 1 - *len);
	memcpy(buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
}

static inline int run_child(void (*fn)(void *), void *arg, int flags, struct child_result *r)
{
	int out[2], err[2] = { -1, -1 }, master = -1;
	struct pollfd pf[2];
	pid_t pid;

	memset(r, 0, sizeof *r);
	if (pipe(out) != 0)
		return -1;
	if (flags & CHILD_TTY) {
		master = posix_openpt(O_RDWR | O_NOCTTY);
		if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
			return -1;
	} else if (pipe(err) != 0) {
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int e;

		if (flags & CHILD_TTY) {
			struct termios tio;

			e = open(ptsname(master), O_RDWR | O_NOCTTY);
			if (e < 0)
				_exit(120);
			if (tcgetattr(e, &tio) == 0) {
				cfmakeraw(&tio);
				tcsetattr(e, TCSANOW, &tio);
			}
			close(master);
		} else {
			e = err[1];
			close(err[0]);
		}
		close(out[0]);
		dup2(out[1], 1);
		dup2(e, 2);
		close(out[1]);
		close(e);
		fn(arg);
		exit(0);
	}
	close(out[1]);
	if (!(flags & CHILD_TTY)) {
		close(err[1]);
		master = err[0];
	}
	pf[0].fd = out[0];
	pf[1].fd = master;
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		pf[0].events = pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].fd >= 0 && pf[0].revents)
			child_drain(pf[0].fd, r->out, sizeof r->out, &r->out_len, &pf[0].fd);
		if (pf[1].fd >= 0 && pf[1].revents)
			child_drain(pf[1].fd, r->err, sizeof r->err, &r->err_len, &pf[1].fd);
	}
	while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

#endif
