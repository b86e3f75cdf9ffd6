/* atomic.h - output files that appear whole or not at all.
 *
 * SPEC: "Output files (indexes, models) are written to a temporary name and
 * renamed into place, so a crash or Ctrl-C never leaves a half-written file
 * behind."  This is git's lockfile/tempfile idea:
 *
 *   atomic_open     creates PATH.tmp.XXXXXX in PATH's directory (so the
 *                   rename cannot cross file systems); write through af.out
 *   atomic_commit   flush, fsync, chmod 0666 & ~umask, rename over PATH,
 *                   fsync the directory: PATH is now the new file, durably
 *   atomic_abort    remove the temporary; PATH is untouched
 *
 * Until commit, PATH keeps its old content, and a reader that opened PATH
 * before the rename goes on reading the old file.  A temporary that is
 * neither committed nor aborted is removed when the process exits (atexit)
 * or is killed by SIGINT, SIGTERM, SIGHUP or SIGPIPE.  Only signals whose
 * action is still the default when the first file is opened are caught: one
 * ignored (nohup's SIGHUP) stays ignored, one the program handles itself is
 * left to it (it should then abort or exit).  Only the
 * process that created a temporary removes it, so a forked child exiting
 * leaves its parent's files alone.  SIGKILL and power loss can leave a
 * PATH.tmp.* behind, never a truncated PATH.
 *
 * When PATH is a symbolic link to an existing file, that file is replaced
 * and the link kept.  PATH "-" (or NULL) means standard output: writes go
 * there directly and commit only flushes.
 */
#ifndef LMPIPE_ATOMIC_H
#define LMPIPE_ATOMIC_H

#include "error.h"
#include "output.h"

struct atomic_file {
	struct output out;   /* write the content here */
	char *path;          /* final name (the link target for a symlink) */
	int slot;            /* entry in the cleanup registry, -1 for stdout */
};

/* On failure nothing is left to clean up. */
int atomic_open(struct atomic_file *af, const char *path, struct lm_error *err);

/* Make the written content PATH.  On failure the temporary is removed and
 * PATH is as it was, except when only the final fsync of the directory
 * fails: PATH is then the new file but may not survive a power loss.
 * Either way AF is released. */
int atomic_commit(struct atomic_file *af, struct lm_error *err);

/* Drop what was written and release AF. */
void atomic_abort(struct atomic_file *af);

#endif
