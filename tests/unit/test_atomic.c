/* test_atomic.c - output files appear whole or not at all (atomic.h).
 *
 * Everything runs in a scratch directory; cases that end a process (signal,
 * exit) run in a child.  The checks are the promises of atomic.h: the old
 * file is intact until commit, the new one complete after it, no PATH.tmp.*
 * is ever left, and the mode is 0666 & ~umask as for open(2). */
#include "atomic.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "diag_child.h"
#include "tap.h"

enum { BIG = 300000 };   /* several output buffers' worth */

static char big[BIG];

static int count_temps(void)
{
	struct dirent *de;
	DIR *d = opendir(".");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static void put_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	fputs(s, f);
	fclose(f);
}

/* The whole file, NUL-terminated, in a static buffer; "" when missing. */
static const char *slurp(const char *path)
{
	static char buf[BIG + 16];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int write_big(struct atomic_file *af, struct lm_error *err)
{
	return output_write(&af->out, big, BIG, err);
}

static void check_commit_and_abort(void)
{
	struct atomic_file af;
	struct lm_error err = { 0 };
	struct stat st;
	int rc;

	put_file("model.gguf", "old content\n");
	rc = atomic_open(&af, "model.gguf", &err);
	is_int(rc, LM_OK, "open");
	is_int(count_temps(), 1, "a temporary exists while writing");
	ok(!strcmp(slurp("model.gguf"), "old content\n"), "the old file is untouched before commit");
	is_int(write_big(&af, &err), LM_OK, "write %d bytes", BIG);
	ok(!strcmp(slurp("model.gguf"), "old content\n"), "still untouched after writing");
	is_int(atomic_commit(&af, &err), LM_OK, "commit");
	ok(stat("model.gguf", &st) == 0 && st.st_size == BIG && !memcmp(slurp("model.gguf"), big, BIG),
	   "after commit the file has the full content");
	is_int(count_temps(), 0, "no temporary after commit");

	put_file("index.idx", "keep me\n");
	atomic_open(&af, "index.idx", &err);
	write_big(&af, &err);
	output_flush(&af.out, &err);
	atomic_abort(&af);
	ok(!strcmp(slurp("index.idx"), "keep me\n"), "abort leaves the old file untouched");
	is_int(count_temps(), 0, "abort removes the temporary");
	atomic_abort(&af);
	ok(1, "a second abort is harmless");

	unlink("fresh.bin");
	atomic_open(&af, "fresh.bin", &err);
	output_str(&af.out, "new\n", &err);
	atomic_abort(&af);
	ok(access("fresh.bin", F_OK) != 0, "abort of a new file leaves no file");

	atomic_open(&af, "fresh.bin", &err);
	output_str(&af.out, "new\n", &err);
	is_int(atomic_commit(&af, &err), LM_OK, "commit of a new file");
	ok(!strcmp(slurp("fresh.bin"), "new\n"), "new file has its content");

	atomic_open(&af, "empty.bin", &err);
	is_int(atomic_commit(&af, &err), LM_OK, "commit with nothing written");
	ok(stat("empty.bin", &st) == 0 && st.st_size == 0, "an empty file appears");
}

static void check_reader_keeps_old(void)
{
	struct atomic_file af;
	struct lm_error err = { 0 };
	char buf[64] = { 0 };
	int fd;

	put_file("shared.idx", "version one\n");
	fd = open("shared.idx", O_RDONLY);
	atomic_open(&af, "shared.idx", &err);
	output_str(&af.out, "version two\n", &err);
	atomic_commit(&af, &err);
	ok(read(fd, buf, sizeof buf - 1) == 12 && !strcmp(buf, "version one\n"),
	   "a reader that opened the file before commit reads the old content");
	close(fd);
	ok(!strcmp(slurp("shared.idx"), "version two\n"), "a new open sees the new content");
}

static void commit_with_umask(void *p)
{
	struct atomic_file af;
	struct lm_error err;

	umask(*(mode_t *)p);
	if (atomic_open(&af, "perm.out", &err) || output_str(&af.out, "x", &err) ||
	    atomic_commit(&af, &err))
		exit(1);
}

static void check_mode(void)
{
	struct child_result r;
	struct stat st;
	mode_t masks[] = { 022, 077, 002 }, want[] = { 0644, 0600, 0664 };
	size_t i;

	for (i = 0; i < 3; i++) {
		unlink("perm.out");
		run_child(commit_with_umask, &masks[i], 0, &r);
		if (child_exit_code(&r) != 0 || stat("perm.out", &st) != 0)
			st.st_mode = 0;
		is_int(st.st_mode & 07777, want[i], "umask %03o gives mode %03o", (unsigned)masks[i],
		       (unsigned)want[i]);
	}
}

/* A child that writes part of the file, says "ready" on stdout, waits to be
 * killed. */
static void killed_midwrite(int sig)
{
	struct atomic_file af;
	struct lm_error err;
	int fds[2], status = 0;
	char c = 0;
	pid_t pid;

	put_file("out.idx", "old\n");
	if (pipe(fds) != 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (atomic_open(&af, "out.idx", &err) || write_big(&af, &err) ||
		    output_flush(&af.out, &err))
			_exit(1);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	ok(read(fds[0], &c, 1) == 1 && c == 'r' && count_temps() == 1,
	   "%s: child is writing its temporary", strsignal(sig));
	kill(pid, sig);
	waitpid(pid, &status, 0);
	close(fds[0]);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == sig, "%s: child died of the signal", strsignal(sig));
	ok(!strcmp(slurp("out.idx"), "old\n"), "%s: old file intact", strsignal(sig));
	is_int(count_temps(), 0, "%s: no temporary left", strsignal(sig));
}

static void exit_without_commit(void *p)
{
	struct atomic_file af;
	struct lm_error err;

	if (atomic_open(&af, "out.idx", &err) || write_big(&af, &err) || output_flush(&af.out, &err))
		exit(3);
	exit(*(int *)p);
}

static void grandchild_exits(void *p)
{
	struct atomic_file af;
	struct lm_error err;
	pid_t pid;

	(void)p;
	if (atomic_open(&af, "family.idx", &err) || output_str(&af.out, "parent's\n", &err))
		exit(3);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		exit(0);
	waitpid(pid, NULL, 0);
	exit(atomic_commit(&af, &err) ? 4 : 0);
}

static void nohup_ignored(void *p)
{
	struct atomic_file af;
	struct lm_error err;

	(void)p;
	signal(SIGHUP, SIG_IGN);
	if (atomic_open(&af, "nohup.idx", &err) || output_str(&af.out, "done\n", &err))
		exit(3);
	raise(SIGHUP);
	exit(atomic_commit(&af, &err) ? 4 : 0);
}

static volatile sig_atomic_t got_int;

static void on_int(int sig)
{
	got_int = sig;
}

static void own_handler(void *p)
{
	struct atomic_file af;
	struct lm_error err;

	(void)p;
	signal(SIGINT, on_int);
	if (atomic_open(&af, "own.idx", &err) || output_str(&af.out, "graceful\n", &err))
		exit(3);
	raise(SIGINT);
	exit(got_int == SIGINT && atomic_commit(&af, &err) == 0 ? 0 : 4);
}

static void write_to_closed_stdout(void *p)
{
	struct atomic_file af;
	struct lm_error err;
	int fds[2];

	(void)p;
	diag_init("index");
	if (atomic_open(&af, "out.idx", &err) || write_big(&af, &err) || output_flush(&af.out, &err))
		exit(3);
	if (pipe(fds) != 0)
		exit(3);
	close(fds[0]);
	if (write(fds[1], "x", 1) < 0)
		exit(6);
	exit(5);
}

static void epipe_exit(void *p)
{
	struct atomic_file af;
	struct lm_error err;

	(void)p;
	diag_init("index");
	signal(SIGPIPE, SIG_IGN);
	if (atomic_open(&af, "out.idx", &err) || write_big(&af, &err) || output_flush(&af.out, &err))
		exit(3);
	diag_exit_for(LM_EPIPE);
}

static void check_process_ends(void)
{
	struct child_result r;
	int status;

	killed_midwrite(SIGTERM);
	killed_midwrite(SIGINT);
	killed_midwrite(SIGHUP);

	put_file("out.idx", "old\n");
	status = 1;
	run_child(exit_without_commit, &status, 0, &r);
	is_int(child_exit_code(&r), 1, "exit(1) without commit");
	ok(!strcmp(slurp("out.idx"), "old\n") && count_temps() == 0, "exit(1): old file intact, no temporary");
	status = 0;
	run_child(exit_without_commit, &status, 0, &r);
	ok(child_exit_code(&r) == 0 && !strcmp(slurp("out.idx"), "old\n") && count_temps() == 0,
	   "exit(0) without commit: old file intact, no temporary");

	run_child(write_to_closed_stdout, NULL, 0, &r);
	ok(child_signal(&r) == SIGPIPE && !strcmp(slurp("out.idx"), "old\n") && count_temps() == 0,
	   "killed by SIGPIPE (default action) mid-write: old file intact, no temporary");

	run_child(grandchild_exits, NULL, 0, &r);
	ok(child_exit_code(&r) == 0 && !strcmp(slurp("family.idx"), "parent's\n"),
	   "a forked child exiting does not remove its parent's temporary");

	run_child(nohup_ignored, NULL, 0, &r);
	ok(child_exit_code(&r) == 0 && !strcmp(slurp("nohup.idx"), "done\n"),
	   "SIGHUP ignored before the first open (nohup) stays ignored");

	run_child(own_handler, NULL, 0, &r);
	ok(child_exit_code(&r) == 0 && !strcmp(slurp("own.idx"), "graceful\n"),
	   "a program's own SIGINT handler is left in charge");
}

static void check_errors(void)
{
	struct atomic_file af, many[40];
	struct lm_error err = { 0 };
	int rc, i, opened;

	rc = atomic_open(&af, "no/such/dir/x.idx", &err);
	is_int(rc, LM_EIO, "missing directory: LM_EIO");
	is_str(err.msg, "no/such/dir/x.idx: cannot create temporary file: No such file or directory",
	       "missing directory: message names the output");
	atomic_abort(&af);
	ok(1, "abort after a failed open is harmless");

	is_int(atomic_open(&af, "", &err), LM_EINVAL, "empty name: LM_EINVAL");

	mkdir("adir", 0755);
	atomic_open(&af, "adir", &err);
	output_str(&af.out, "x", &err);
	rc = atomic_commit(&af, &err);
	is_int(rc, LM_EIO, "rename over a directory fails");
	ok(!strncmp(err.msg, "adir: rename from adir.tmp.", 27) && strstr(err.msg, ": Is a directory"),
	   "rename failure names both files (%s)", err.msg);
	is_int(count_temps(), 0, "failed commit removes the temporary");

	for (opened = 0; opened < 40; opened++) {
		char name[32];

		snprintf(name, sizeof name, "many%d", opened);
		if (atomic_open(&many[opened], name, &err))
			break;
	}
	ok(opened >= 8 && opened < 40 && err.code == LM_ENOMEM && strstr(err.msg, "output files open at once"),
	   "a bounded number of pending files, then a clear error (%d: %s)", opened, err.msg);
	for (i = 0; i < opened; i++)
		atomic_abort(&many[i]);
	is_int(count_temps(), 0, "all aborted");
	ok(atomic_open(&af, "again.idx", &err) == 0, "slots are reused after abort");
	atomic_abort(&af);
}

static void check_symlink(void)
{
	struct atomic_file af;
	struct lm_error err = { 0 };
	struct stat st;

	mkdir("store", 0755);
	put_file("store/real.gguf", "old\n");
	symlink("store/real.gguf", "link.gguf");
	atomic_open(&af, "link.gguf", &err);
	output_str(&af.out, "through the link\n", &err);
	is_int(atomic_commit(&af, &err), LM_OK, "commit through a symlink");
	ok(lstat("link.gguf", &st) == 0 && S_ISLNK(st.st_mode), "the symlink is kept");
	ok(!strcmp(slurp("store/real.gguf"), "through the link\n"), "its target has the new content");
}

static void to_stdout(void *p)
{
	struct atomic_file af;
	struct lm_error err;

	(void)p;
	if (atomic_open(&af, "-", &err) || output_str(&af.out, "streamed\n", &err) ||
	    atomic_commit(&af, &err))
		exit(3);
}

int main(void)
{
	char dir[] = "/tmp/lmpipe-test-atomic.XXXXXX";
	struct child_result r;
	size_t i;

	for (i = 0; i < BIG; i++)
		big[i] = (char)('a' + i % 26);
	if (!mkdtemp(dir) || chdir(dir) != 0) {
		ok(0, "scratch directory");
		return tap_done();
	}
	/* First, while this process has not opened an atomic file: a program
	 * calls diag_init before anything else registers exit handlers. */
	put_file("out.idx", "old\n");
	run_child(epipe_exit, NULL, 0, &r);
	ok(child_signal(&r) == SIGPIPE && !strcmp(slurp("out.idx"), "old\n") && count_temps() == 0,
	   "diag_exit_for(LM_EPIPE) with SIGPIPE ignored: temporary removed, then SIGPIPE");

	check_commit_and_abort();
	check_reader_keeps_old();
	check_mode();
	check_process_ends();
	check_errors();
	check_symlink();
	run_child(to_stdout, NULL, 0, &r);
	ok(child_exit_code(&r) == 0 && !strcmp(r.out, "streamed\n"), "'-' writes to stdout");

	if (system("rm -rf -- \"$PWD\"") != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
