#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The registry of temporaries to remove when the process dies.  A signal
 * handler may only call async-signal-safe functions and must not follow
 * pointers into memory another thread may free, so each entry holds its
 * name inline and a state word read with atomic loads (git tempfile.c keeps
 * a list for the same reason). */
enum { MAX_PENDING = 32 };
enum { SLOT_FREE, SLOT_BUSY, SLOT_ACTIVE };

struct pending_temp {
	int state;
	pid_t owner;
	char name[PATH_MAX];
};

static struct pending_temp pending[MAX_PENDING];
static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void remove_pending(void)
{
	pid_t me = getpid();
	int i;

	for (i = 0; i < MAX_PENDING; i++)
		if (__atomic_load_n(&pending[i].state, __ATOMIC_ACQUIRE) == SLOT_ACTIVE &&
		    pending[i].owner == me)
			unlink(pending[i].name);
}

/* Die of SIG as we would have, minus the temporaries: the default action is
 * restored and the signal raised again; it stays blocked until we return,
 * then terminates the process with the status a shell expects. */
static void on_signal(int sig)
{
	int saved = errno;

	remove_pending();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

/* Only signals that would kill the process get the handler: one the program
 * handles itself is its business, and one ignored at start (nohup's SIGHUP,
 * a parent's SIGPIPE) must stay ignored. */
static void install(void)
{
	struct sigaction sa, old;
	size_t i;

	atexit(remove_pending);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
		if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
		    !(old.sa_flags & SA_SIGINFO))
			sigaction(cleanup_signals[i], &sa, NULL);
	}
}

/* The umask without changing it (umask(2) can only be read by setting it,
 * which races with threads creating files): Linux >= 4.7 shows it in
 * /proc/self/status. */
static mode_t current_umask(void)
{
	char line[256];
	unsigned mask;
	mode_t m;
	FILE *f = fopen("/proc/self/status", "re");

	if (f) {
		while (fgets(line, sizeof line, f)) {
			if (sscanf(line, "Umask: %o", &mask) == 1) {
				fclose(f);
				return (mode_t)mask;
			}
		}
		fclose(f);
	}
	m = umask(022);
	umask(m);
	return m;
}

static void block_signals(sigset_t *old)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++)
		sigaddset(&set, cleanup_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static int claim_slot(void)
{
	int i, expect;

	for (i = 0; i < MAX_PENDING; i++) {
		expect = SLOT_FREE;
		if (__atomic_compare_exchange_n(&pending[i].state, &expect, SLOT_BUSY, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return i;
	}
	return -1;
}

static void release_slot(int slot)
{
	__atomic_store_n(&pending[slot].state, SLOT_FREE, __ATOMIC_RELEASE);
}

int atomic_open(struct atomic_file *af, const char *path, struct lm_error *err)
{
	struct pending_temp *t;
	struct stat st;
	sigset_t oldmask;
	char *resolved = NULL;
	int rc, fd = -1, n;

	memset(af, 0, sizeof *af);
	af->slot = -1;
	if (!path || !strcmp(path, "-"))
		return output_from_fd(&af->out, 1, "<stdout>", err);
	if (!*path)
		return lm_fail(err, LM_EINVAL, "empty output file name");
	pthread_once(&install_once, install);

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		resolved = realpath(path, NULL);
	af->path = resolved ? resolved : strdup(path);
	if (!af->path)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);

	af->slot = claim_slot();
	if (af->slot < 0) {
		rc = lm_fail(err, LM_ENOMEM, "%s: more than %d output files open at once",
			     path, MAX_PENDING);
		goto out;
	}
	t = &pending[af->slot];
	n = snprintf(t->name, sizeof t->name, "%s.tmp.XXXXXX", af->path);
	if (n < 0 || (size_t)n >= sizeof t->name) {
		rc = lm_fail(err, LM_EINVAL, "%s: file name too long", path);
		goto out;
	}
	t->owner = getpid();
	/* A signal between creating the file and marking it active would
	 * leave it behind. */
	block_signals(&oldmask);
	fd = mkostemp(t->name, O_CLOEXEC);
	if (fd >= 0)
		__atomic_store_n(&t->state, SLOT_ACTIVE, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	if (fd < 0) {
		rc = lm_fail_errno(err, "%s: cannot create temporary file", path);
		goto out;
	}
	rc = output_from_fd(&af->out, fd, path, err);
out:
	if (rc) {
		if (fd >= 0) {
			close(fd);
			unlink(pending[af->slot].name);
		}
		if (af->slot >= 0)
			release_slot(af->slot);
		free(af->path);
		af->path = NULL;
		af->slot = -1;
	}
	return rc;
}

/* Drop buffered bytes and free the output without writing them. */
static void release(struct atomic_file *af)
{
	af->out.len = 0;
	output_close(&af->out, NULL);
	free(af->path);
	af->path = NULL;
	af->slot = -1;
}

/* Make the rename itself durable: it lives in the directory. */
static int sync_dir(const char *path, struct lm_error *err)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = LM_OK;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Some file systems cannot sync a directory (EINVAL); the rename is
	 * then as durable as they make it. */
	if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
		rc = lm_fail_errno(err, "%s: sync directory %s", path, dir);
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int atomic_commit(struct atomic_file *af, struct lm_error *err)
{
	struct pending_temp *t;
	int fd = af->out.fd, rc;

	if (af->slot < 0) {
		rc = output_flush(&af->out, err);
		release(af);
		return rc;
	}
	t = &pending[af->slot];
	rc = output_flush(&af->out, err);
	if (rc)
		goto fail;
	if (fsync(fd) != 0) {
		rc = lm_fail_errno(err, "%s: fsync", af->out.name);
		goto fail;
	}
	/* mkstemp created the file 0600; give it the mode open(2) would. */
	if (fchmod(fd, 0666 & ~current_umask()) != 0) {
		rc = lm_fail_errno(err, "%s: chmod", af->out.name);
		goto fail;
	}
	fd = -1;
	if (close(af->out.fd) != 0) {
		rc = lm_fail_errno(err, "%s: close", af->out.name);
		goto fail;
	}
	if (rename(t->name, af->path) != 0) {
		rc = lm_fail_errno(err, "%s: rename from %s", af->out.name, t->name);
		goto fail;
	}
	release_slot(af->slot);
	rc = sync_dir(af->path, err);
	release(af);
	return rc;
fail:
	if (fd >= 0)
		close(fd);
	unlink(t->name);
	release_slot(af->slot);
	release(af);
	return rc;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->slot >= 0) {
		close(af->out.fd);
		unlink(pending[af->slot].name);
		release_slot(af->slot);
	}
	release(af);
}
