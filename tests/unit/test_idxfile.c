/* test_idxfile.c - the index container: CRC-32C against the published check
 * values, round trips (whole and streamed sections, alignment, header
 * fields), and refusal of every kind of damage: flipped bytes in each part,
 * truncation, bad names, overlapping sections. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "index/idxfile.h"
#include "tap.h"

static char dir[] = "/tmp/test_idxfile.XXXXXX";
static char path[256];

static unsigned char *slurp(const char *p, size_t *n)
{
	FILE *fp = fopen(p, "rb");
	unsigned char *buf;
	long sz;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = aligned_alloc(64, ((size_t)sz + 64) / 64 * 64);
	if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*n = (size_t)sz;
	return buf;
}

static void test_crc(void)
{
	static const char check[] = "123456789";
	unsigned char zeros[32] = { 0 }, ones[32], inc[32];
	unsigned char big[1000];
	int i;

	/* RFC 3720 B.4 check value and its test vectors (32 bytes of 0x00,
	 * 0xff, 0..31). */
	for (i = 0; i < 32; i++) {
		ones[i] = 0xff;
		inc[i] = (unsigned char)i;
	}
	is_int(crc32c(0, check, 9), 0xE3069283u, "crc32c(\"123456789\")");
	is_int(crc32c_scalar(0, check, 9), 0xE3069283u, "table crc32c(\"123456789\")");
	is_int(crc32c(0, zeros, 32), 0x8A9136AAu, "RFC 3720 32 zero bytes");
	is_int(crc32c(0, ones, 32), 0x62A8AB43u, "RFC 3720 32 0xff bytes");
	is_int(crc32c(0, inc, 32), 0x46DD794Eu, "RFC 3720 incrementing bytes");
	is_int(crc32c_scalar(0, inc, 32), 0x46DD794Eu, "table: incrementing bytes");
	for (i = 0; i < 1000; i++)
		big[i] = (unsigned char)(i * 7 + 3);
	is_int(crc32c(crc32c(0, big, 333), big + 333, 667), crc32c_scalar(0, big, 1000),
	       "incremental hardware crc equals one-shot table crc (unaligned split)");
	is_int(crc32c(0, big + 1, 999), crc32c_scalar(0, big + 1, 999), "unaligned start");
}

/* Sections: "a" 3 bytes, "big" streamed in pieces and larger than
 * IDXFILE_EAGER_MAX, "empty" 0 bytes. */
static size_t big_size = IDXFILE_EAGER_MAX + 1000;

static int write_sample(const char *p)
{
	struct lm_error err = { 0 };
	struct idxfile_writer *w;
	struct idxfile_info *info;
	unsigned char *big = malloc(big_size);
	size_t i;
	int rc;

	for (i = 0; i < big_size; i++)
		big[i] = (unsigned char)(i % 251);
	rc = idxfile_writer_open(&w, p, &err);
	if (rc)
		goto out;
	info = idxfile_writer_info(w);
	info->flags = IDXFILE_F_FLAT;
	info->metric = IDXFILE_METRIC_L2;
	info->dim = 7;
	info->doc_count = 42;
	strcpy(info->model_name, "bge-small");
	strcpy(info->model_hash, "sha256:abc");
	if ((rc = idxfile_add_section(w, "a", "xyz", 3, &err)) ||
	    (rc = idxfile_section_begin(w, "big", &err)) ||
	    (rc = idxfile_section_write(w, big, 100, &err)) ||
	    (rc = idxfile_section_write(w, big + 100, big_size - 100, &err)) ||
	    (rc = idxfile_section_end(w, &err)) ||
	    (rc = idxfile_add_section(w, "empty", NULL, 0, &err))) {
		idxfile_writer_abort(w);
		goto out;
	}
	rc = idxfile_writer_commit(w, &err);
out:
	if (rc)
		diag("%s", err.msg);
	free(big);
	return rc;
}

static void test_round_trip(void)
{
	struct lm_error err = { 0 };
	struct idxfile f;
	const void *p;
	uint64_t n;
	size_t i;
	int rc, good = 1;

	is_int(write_sample(path), 0, "write sample");
	rc = idxfile_open(&f, path, &err);
	is_int(rc, 0, "open: %s", err.msg);
	if (rc)
		return;
	is_int(f.info.version, IDXFILE_VERSION, "version");
	is_int(f.info.flags, IDXFILE_F_FLAT, "flags");
	is_int(f.info.metric, IDXFILE_METRIC_L2, "metric");
	is_int(f.info.dim, 7, "dim");
	is_int(f.info.doc_count, 42, "doc count");
	is_str(f.info.model_name, "bge-small", "model name");
	is_str(f.info.model_hash, "sha256:abc", "model hash");
	is_int(f.nsections, 3, "three sections");
	is_int(idxfile_section(&f, "a", &p, &n), 0, "section a");
	ok(n == 3 && memcmp(p, "xyz", 3) == 0, "section a content");
	ok((uintptr_t)p % 64 == 0, "section a aligned");
	is_int(idxfile_section(&f, "big", &p, &n), 0, "section big");
	ok(n == big_size, "big size");
	ok((uintptr_t)p % 64 == 0, "section big aligned");
	for (i = 0; i < big_size; i++)
		good &= ((const unsigned char *)p)[i] == (unsigned char)(i % 251);
	ok(good, "big content");
	ok(f.sections[0].verified && !f.sections[1].verified && f.sections[2].verified,
	   "small sections verified at open, the large one not");
	is_int(idxfile_section(&f, "empty", &p, &n), 0, "empty section present");
	is_int(n, 0, "empty section size");
	is_int(idxfile_section(&f, "nope", &p, &n), LM_EOF, "missing section is LM_EOF");
	is_int(idxfile_require(&f, "nope", &p, &n, &err), LM_EFORMAT, "require missing");
	ok(strstr(err.msg, "nope") != NULL, "message names the section: %s", err.msg);
	is_int(idxfile_verify(&f, &err), 0, "verify all");
	ok(f.sections[1].verified, "big verified now");
	idxfile_close(&f);
}

static int open_bytes(unsigned char *buf, size_t n, struct lm_error *err, int verify)
{
	struct idxfile f;
	int rc = idxfile_open_mem(&f, buf, n, "mem.idx", err);

	if (rc)
		return rc;
	if (verify)
		rc = idxfile_verify(&f, err);
	idxfile_close(&f);
	return rc;
}

static void test_damage(void)
{
	struct lm_error err = { 0 };
	unsigned char *buf;
	size_t n, i, cut;
	int rc, all = 1, any_at_open = 0;

	buf = slurp(path, &n);
	if (!buf) {
		ok(0, "read sample");
		return;
	}
	is_int(open_bytes(buf, n, &err, 1), 0, "pristine bytes open and verify");
	/* Every single flipped byte is detected by open or verify: the
	 * prologue, padding excepted.  Padding bytes carry no data, so they
	 * are skipped (they are not covered by any checksum). */
	for (i = 0; i < n; i += (i < 4096 || i > n - 5000) ? 1 : 4093) {
		int in_data = (i >= 64 && i < 67) || (i >= 128 && i < 128 + big_size);
		int in_meta = i < 12 || i >= n - 576 - 3 * 64;

		if (!in_data && !in_meta)
			continue;
		/* Trailer padding (the last 4 bytes) is not covered either. */
		if (i >= n - 4)
			continue;
		buf[i] ^= 0x40;
		rc = open_bytes(buf, n, &err, 1);
		if (rc != LM_EFORMAT) {
			all = 0;
			diag("flip at %zu not detected", i);
		}
		if (i >= 128 && i < 128 + big_size && open_bytes(buf, n, &err, 0) == 0)
			any_at_open = 1;
		buf[i] ^= 0x40;
	}
	ok(all, "every flipped byte is refused with LM_EFORMAT");
	ok(any_at_open, "a flip inside the large section passes open and fails verify");
	buf[200] ^= 1;
	rc = open_bytes(buf, n, &err, 1);
	ok(rc == LM_EFORMAT && strstr(err.msg, "section big") && strstr(err.msg, "checksum"),
	   "checksum error names file and section: %s", err.msg);
	ok(strstr(err.msg, "mem.idx") != NULL, "and the file");
	buf[200] ^= 1;
	for (cut = 0; cut < n; cut += (cut < 700 ? 1 : 997)) {
		rc = open_bytes(buf, cut, &err, 0);
		if (rc != LM_EFORMAT) {
			all = 0;
			diag("truncation to %zu not detected", cut);
		}
	}
	ok(all, "every truncation is refused");
	rc = open_bytes(buf, n - 1, &err, 0);
	ok(rc == LM_EFORMAT && strstr(err.msg, "truncated"), "truncated: %s", err.msg);
	memcpy(buf, "GGUF", 4);
	rc = open_bytes(buf, n, &err, 0);
	ok(rc == LM_EFORMAT && strstr(err.msg, "not an lmpipe index"), "wrong magic: %s", err.msg);
	free(buf);
}

static void test_writer_errors(void)
{
	struct lm_error err = { 0 };
	struct idxfile_writer *w;
	char p2[300];
	struct stat st;

	snprintf(p2, sizeof(p2), "%s/w.idx", dir);
	if (idxfile_writer_open(&w, p2, &err)) {
		ok(0, "open writer: %s", err.msg);
		return;
	}
	is_int(idxfile_add_section(w, "", "x", 1, &err), LM_EINVAL, "empty name refused");
	is_int(idxfile_add_section(w, "bad name", "x", 1, &err), LM_EINVAL, "space refused");
	is_int(idxfile_add_section(w, "0123456789012345678901234567890123", "x", 1, &err),
	       LM_EINVAL, "32-byte name refused");
	is_int(idxfile_add_section(w, "x", "x", 1, &err), 0, "good section");
	is_int(idxfile_add_section(w, "x", "x", 1, &err), LM_EINVAL, "duplicate refused");
	ok(strstr(err.msg, "duplicate") != NULL, "message: %s", err.msg);
	idxfile_writer_abort(w);
	ok(stat(p2, &st) != 0, "abort leaves no file");

	/* Replacing a file: the old mapping keeps reading the old content. */
	{
		struct idxfile old, cur;
		const void *p;
		uint64_t n;

		if (write_sample(p2) || idxfile_open(&old, p2, &err)) {
			ok(0, "sample: %s", err.msg);
			return;
		}
		if (idxfile_writer_open(&w, p2, &err) ||
		    idxfile_add_section(w, "a", "new", 3, &err) ||
		    idxfile_writer_commit(w, &err)) {
			ok(0, "rewrite: %s", err.msg);
			idxfile_close(&old);
			return;
		}
		ok(idxfile_section(&old, "a", &p, &n) == 0 && memcmp(p, "xyz", 3) == 0,
		   "reader holding the old file sees the old content");
		is_int(idxfile_verify(&old, &err), 0, "and it still verifies");
		ok(idxfile_open(&cur, p2, &err) == 0 && idxfile_section(&cur, "a", &p, &n) == 0 &&
		   memcmp(p, "new", 3) == 0, "a new reader sees the new file");
		idxfile_close(&cur);
		idxfile_close(&old);
	}
}

static void test_metric_names(void)
{
	struct lm_error err = { 0 };
	uint32_t m = 99;

	is_int(idxfile_metric_parse("ip", &m, &err), 0, "parse ip");
	is_int(m, IDXFILE_METRIC_IP, "ip");
	is_int(idxfile_metric_parse("hamming", &m, &err), LM_EINVAL, "unknown metric");
	is_str(idxfile_metric_name(IDXFILE_METRIC_COSINE), "cosine", "cosine name");
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/sample.idx", dir);
	test_crc();
	test_round_trip();
	test_damage();
	test_writer_errors();
	test_metric_names();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
