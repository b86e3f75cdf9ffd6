/* test_ndjson.c - the stream protocol of SPEC.md, line by line. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ndjson.h"
#include "tap.h"

struct stream {
	int fd;
	struct input in;
	struct ndjson_reader r;
};

static void open_stream(struct stream *s, const char *data, size_t len, const char *name)
{
	struct lm_error err = { 0 };

	s->fd = memfd_create(name, 0);
	if (s->fd < 0 || write(s->fd, data, len) != (ssize_t)len || lseek(s->fd, 0, SEEK_SET) != 0)
		abort();
	if (input_from_fd(&s->in, s->fd, name, &err) || ndjson_open(&s->r, &s->in, &err))
		abort();
}

static void close_stream(struct stream *s)
{
	ndjson_close(&s->r);
	input_close(&s->in);
	close(s->fd);
}

/* The next record as compact JSON, "EOF", or "ERR: message". */
static char *next(struct stream *s)
{
	static char out[1024];
	struct lm_error err = { 0 };
	struct json_value *rec;
	int rc = ndjson_next(&s->r, &rec, &err);
	char *t;

	if (rc == LM_EOF)
		return "EOF";
	if (rc) {
		snprintf(out, sizeof out, "ERR: %s", err.msg);
		return out;
	}
	t = json_to_string(rec, NULL, &err);
	snprintf(out, sizeof out, "%s", t ? t : "WRITE FAILED");
	free(t);
	return out;
}

#define STREAM(s, text, name) open_stream(s, text, sizeof(text) - 1, name)

static void test_records(void)
{
	struct stream s;

	STREAM(&s, "{\"id\":\"a\",\"text\":\"hello\"}\n"
		   "\n"
		   "plain text line\r\n"
		   "  {\"_id\": \"b\", \"x\": 1}\n"
		   "{\"id\": 42, \"v\": 0.1000}\n"
		   "{\"text\": \"no id\"}\n"
		   "  \t \r\n"
		   "[1,2]\n"
		   "{\"_id\":\"u\",\"id\":\"v\"}\n"
		   "{\"id\":-1.5e3}\r\n"
		   "  indented text, no newline at end", "mixed.jsonl");
	is_str(next(&s), "{\"id\":\"a\",\"text\":\"hello\"}", "line 1: JSON record");
	is_int(s.r.line, 1, "line number 1");
	is_str(next(&s), "{\"id\":\"3\",\"text\":\"plain text line\"}", "line 3: plain text, CR dropped");
	is_int(s.r.line, 3, "blank line 2 skipped but counted");
	is_str(next(&s), "{\"id\":\"b\",\"x\":1}", "line 4: _id becomes id in place");
	is_str(next(&s), "{\"id\":\"42\",\"v\":0.1000}", "line 5: numeric id as a string");
	is_str(next(&s), "{\"id\":\"6\",\"text\":\"no id\"}", "line 6: missing id is the line number, first");
	is_str(next(&s), "{\"id\":\"8\",\"text\":\"[1,2]\"}", "line 8: a non-object line is text");
	is_str(next(&s), "{\"_id\":\"u\",\"id\":\"v\"}", "line 9: id wins over _id");
	is_str(next(&s), "{\"id\":\"-1.5e3\"}", "line 10: id as written, CRLF");
	is_str(next(&s), "{\"id\":\"11\",\"text\":\"  indented text, no newline at end\"}",
	       "line 11: last line without newline");
	is_str(next(&s), "EOF", "end of input");
	is_str(next(&s), "EOF", "end of input stays");
	is_int(s.r.records, 9, "9 records");
	close_stream(&s);

	STREAM(&s, "", "empty");
	is_str(next(&s), "EOF", "empty input has no records");
	close_stream(&s);

	STREAM(&s, "\xef\xbb\xbf{\"id\":\"z\"}\n\xef\xbb\xbfx\n", "bom");
	is_str(next(&s), "{\"id\":\"z\"}", "byte order mark skipped on line 1");
	is_str(next(&s), "{\"id\":\"2\",\"text\":\"\xef\xbb\xbfx\"}", "but kept on later lines");
	close_stream(&s);

	STREAM(&s, "caf\xc3\xa9 \"quoted\" \\ tab\there\n", "text");
	is_str(next(&s), "{\"id\":\"1\",\"text\":\"caf\xc3\xa9 \\\"quoted\\\" \\\\ tab\\there\"}",
	       "plain text is escaped on output, UTF-8 kept");
	close_stream(&s);
}

static void test_errors(void)
{
	struct stream s;
	struct lm_error err = { 0 };
	struct json_value *rec;

	STREAM(&s, "{\"a\":1}\n{\"a\":1,}\n{\"b\":2}\n", "bad.jsonl");
	is_str(next(&s), "{\"id\":\"1\",\"a\":1}", "good line");
	is_str(next(&s), "ERR: bad.jsonl:2:8: trailing comma before '}'", "FILE:LINE:COL message");
	is_str(next(&s), "{\"id\":\"3\",\"b\":2}", "reading goes on after a bad line (--skip-bad)");
	close_stream(&s);

	STREAM(&s, "  {\"a\" 1}\n", "f");
	is_str(next(&s), "ERR: f:1:8: unexpected '1', expected ':'", "column counts leading spaces");
	close_stream(&s);

	STREAM(&s, "\xef\xbb\xbf{,}\n", "f");
	is_str(next(&s), "ERR: f:1:5: unexpected ',', expected '\"' (a member name) or '}'",
	       "column counts the byte order mark");
	close_stream(&s);

	STREAM(&s, "{\"a\":1} trailing\n", "f");
	is_str(next(&s), "ERR: f:1:9: unexpected 't', expected end of input after the value",
	       "text after the object");
	close_stream(&s);

	STREAM(&s, "{\"text\": \"unterminated\n", "f");
	is_str(next(&s), "ERR: f:1:10: unterminated string", "a line that starts with { must be JSON");
	close_stream(&s);

	STREAM(&s, "ok\nabc\xff" "def\n", "utf");
	is_str(next(&s), "{\"id\":\"1\",\"text\":\"ok\"}", "text line");
	is_str(next(&s), "ERR: utf:2:4: invalid UTF-8", "invalid UTF-8 in a text line");
	close_stream(&s);

	STREAM(&s, "{\"t\":\"\xc3\x28\"}\n", "utf");
	is_str(next(&s), "ERR: utf:1:7: invalid UTF-8", "invalid UTF-8 in a JSON line");
	close_stream(&s);

	STREAM(&s, "{\"t\":\"\xed\xa0\x80\"}\n", "utf");
	is_str(next(&s), "ERR: utf:1:7: invalid UTF-8", "encoded surrogate in a JSON line");
	close_stream(&s);

	STREAM(&s, "ab\0c\n{\"a\":\"\0\"}\n", "nul");
	is_str(next(&s), "ERR: nul:1:3: NUL byte in line", "NUL in a text line");
	is_str(next(&s), "ERR: nul:2:7: NUL byte in line", "NUL in a JSON line");
	close_stream(&s);

	STREAM(&s, "{\"id\":[1]}\n{\"_id\":null}\n{\"id\":true}\n", "ids");
	is_str(next(&s), "ERR: ids:1: \"id\" must be a string or a number, not array", "array id");
	is_str(next(&s), "ERR: ids:2: \"id\" must be a string or a number, not null", "null _id");
	is_str(next(&s), "ERR: ids:3: \"id\" must be a string or a number, not boolean", "boolean id");
	close_stream(&s);

	STREAM(&s, "{\"a\":1,\"a\":2}\n", "dup");
	is_str(next(&s), "ERR: dup:1:8: duplicate member name \"a\"", "duplicate member");
	close_stream(&s);

	STREAM(&s, "short\nthis line is too long\nok\n", "long");
	s.r.max_line = 10;
	is_str(next(&s), "{\"id\":\"1\",\"text\":\"short\"}", "line within the limit");
	ok(ndjson_next(&s.r, &rec, &err) == LM_ENOMEM, "line over max_line refused");
	is_str(err.msg, "long:2: line longer than 10 bytes", "its message");
	close_stream(&s);
}

static void test_record_text(void)
{
	struct json_doc *doc = json_doc_new();
	struct lm_error err = { 0 };
	struct json_value *rec;
	const char *t;
	size_t len = 99;

	json_parse(doc, "{\"title\":\"Logs\",\"text\":\"rotate them\"}", 37, &rec, &err);
	t = ndjson_record_text(doc, rec, &len);
	ok(t && len == 16 && !memcmp(t, "Logs rotate them", 16), "title prepended to text");
	json_parse(doc, "{\"title\":\"\",\"text\":\"only text\"}", 31, &rec, &err);
	t = ndjson_record_text(doc, rec, &len);
	ok(t && len == 9 && !memcmp(t, "only text", 9), "empty title ignored");
	json_parse(doc, "{\"title\":\"only title\"}", 22, &rec, &err);
	t = ndjson_record_text(doc, rec, &len);
	ok(t && len == 10 && !memcmp(t, "only title", 10), "title alone");
	json_parse(doc, "{\"text\":\"\"}", 11, &rec, &err);
	t = ndjson_record_text(doc, rec, &len);
	ok(t && len == 0, "empty text is empty, not missing");
	json_parse(doc, "{\"text\":5}", 10, &rec, &err);
	ok(!ndjson_record_text(doc, rec, &len), "no text string gives NULL");
	json_doc_free(doc);
}

static void test_long_and_batch(void)
{
	enum { BIG = 3 << 20 };
	char *data = malloc(BIG + 64);
	struct json_doc *d1 = json_doc_new(), *d2 = json_doc_new();
	struct json_value *r1, *r2;
	struct lm_error err = { 0 };
	struct stream s;
	size_t n, len = 0;

	len += (size_t)sprintf(data, "{\"id\":\"big\",\"text\":\"");
	memset(data + len, 'x', BIG);
	len += BIG;
	len += (size_t)sprintf(data + len, "\"}\nsecond\n");
	open_stream(&s, data, len, "big");
	ok(!ndjson_next_into(&s.r, d1, &r1, &err), "3 MiB line read into doc 1");
	ok(!ndjson_next_into(&s.r, d2, &r2, &err), "next line into doc 2");
	ok(json_string(json_get(r1, "text"), &n) && n == BIG, "doc 1's record is still whole");
	is_str(json_string(json_get(r2, "text"), NULL), "second", "doc 2's record");
	close_stream(&s);
	json_doc_free(d1);
	json_doc_free(d2);
	free(data);
}

static void test_write(void)
{
	struct lm_error err = { 0 };
	struct json_doc *doc = json_doc_new();
	struct json_value *rec, *arr;
	static const float emb[] = { 0.25f, -1e-3f };
	struct output out;
	char got[256];
	int fd = memfd_create("out", 0), p[2];
	ssize_t n;

	rec = json_new_object(doc);
	json_object_set(doc, rec, "id", json_new_string(doc, "d1", 2));
	json_object_set(doc, rec, "embedding", json_new_float_array(doc, emb, 2));
	ok(!output_from_fd(&out, fd, "<memfd>", &err), "output");
	ok(!ndjson_write(&out, rec, &err), "write a record");
	ok(!ndjson_write(&out, rec, &err), "write it again");
	arr = json_new_array(doc);
	is_int(ndjson_write(&out, arr, &err), LM_EINVAL, "an array is not a record");
	is_str(err.msg, "<memfd>: record is array, not an object", "its message");
	ok(!output_close(&out, &err), "close");
	n = pread(fd, got, sizeof got - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	is_str(got, "{\"id\":\"d1\",\"embedding\":[0.25,-0.001]}\n{\"id\":\"d1\",\"embedding\":[0.25,-0.001]}\n",
	       "one compact line per record");
	close(fd);

	/* A closed pipe is reported as LM_EPIPE, not silently ignored. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(p) == 0) {
		close(p[0]);
		output_from_fd(&out, p[1], "<pipe>", &err);
		ndjson_write(&out, rec, &err);
		is_int(output_flush(&out, &err), LM_EPIPE, "write to a closed pipe is LM_EPIPE");
		output_close(&out, &err);
		close(p[1]);
	}
	json_doc_free(doc);
}

int main(void)
{
	test_records();
	test_errors();
	test_record_text();
	test_long_and_batch();
	test_write();
	return tap_done();
}
