/* libFuzzer target: arbitrary bytes through the binary stream reader, the
 * .npy reader, the fvecs reader and the whole vecconv_copy path.  Every
 * input must end in LM_EOF or a clean error, never a crash, a leak or an
 * unbounded allocation (the format's limits bound every buffer). */
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fvecs.h"
#include "npy.h"
#include "vecconv.h"
#include "vecstream.h"

static int open_bytes(struct input *in, const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	if (input_from_fd(in, fd, "fuzz", NULL))
		abort();
	return fd;
}

static void run_vecstream(const uint8_t *data, size_t size)
{
	struct vecstream_reader r;
	struct vecstream_record rec;
	struct lm_error err = { 0 };
	struct input in;
	int fd = open_bytes(&in, data, size);
	float *v;

	if (vecstream_open_reader(&r, &in, &err) == LM_OK) {
		v = malloc(sizeof *v * r.dim);
		while (v && vecstream_next(&r, &rec, &err) == LM_OK)
			vecstream_record_floats(&r, &rec, v);
		free(v);
		vecstream_close_reader(&r);
	}
	input_close(&in);
	close(fd);
}

static void run_npy(const uint8_t *data, size_t size)
{
	struct npy_reader r;
	struct lm_error err = { 0 };
	struct input in;
	int fd = open_bytes(&in, data, size);
	float *v;

	if (npy_open_reader(&r, &in, &err) == LM_OK) {
		v = malloc(sizeof *v * (r.dim ? r.dim : 1));
		while (v && npy_next(&r, v, &err) == LM_OK)
			;
		free(v);
		npy_close_reader(&r);
	}
	input_close(&in);
	close(fd);
}

static void run_fvecs(const uint8_t *data, size_t size)
{
	struct fvecs_reader r;
	struct lm_error err = { 0 };
	struct input in;
	int fd = open_bytes(&in, data, size);
	float *v;

	if (fvecs_open_reader(&r, &in, FVECS_F32, &err) == LM_OK) {
		v = malloc(sizeof *v * (r.dim ? r.dim : 1));
		while (v && r.dim && fvecs_next(&r, v, &err) == LM_OK)
			;
		free(v);
		fvecs_close_reader(&r);
	}
	input_close(&in);
	close(fd);
}

/* Sniffed input converted to NDJSON and to a binary stream. */
static void run_copy(const uint8_t *data, size_t size, enum vecconv_format to)
{
	struct lm_error err = { 0 };
	struct output out;
	struct input in;
	int fd = open_bytes(&in, data, size), ofd = open("/dev/null", O_WRONLY);

	if (ofd < 0 || output_from_fd(&out, ofd, "null", NULL))
		abort();
	vecconv_copy(&in, VECCONV_AUTO, &out, to, -1, NULL, &err);
	output_close(&out, &err);
	close(ofd);
	input_close(&in);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_vecstream(data, size);
	run_npy(data, size);
	run_fvecs(data, size);
	run_copy(data, size, VECCONV_NDJSON);
	run_copy(data, size, VECCONV_BIN);
	return 0;
}
