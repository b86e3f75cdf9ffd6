#include "ndjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int ndjson_open(struct ndjson_reader *r, struct input *in, struct lm_error *err)
{
	memset(r, 0, sizeof *r);
	r->in = in;
	r->doc = json_doc_new();
	if (!r->doc)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
	return LM_OK;
}

void ndjson_close(struct ndjson_reader *r)
{
	json_doc_free(r->doc);
	memset(r, 0, sizeof *r);
}

static int ndjson_line_id(struct json_doc *doc, uint64_t line, struct json_value **out)
{
	char buf[24];

	*out = json_new_string(doc, buf, (size_t)snprintf(buf, sizeof buf, "%llu",
							  (unsigned long long)line));
	return *out ? LM_OK : LM_ENOMEM;
}

/* SPEC.md: "id" is a string; "_id" is accepted as "id". */
static int ndjson_fix_id(struct ndjson_reader *r, struct json_doc *doc, struct json_value *rec,
			 struct lm_error *err)
{
	struct json_value *id = json_get(rec, "id"), *s;
	const char *t;
	char buf[32];
	size_t len;
	int rc;

	if (!id && json_get(rec, "_id")) {
		rc = json_object_rename(doc, rec, "_id", "id");
		if (rc)
			goto nomem;
		id = json_get(rec, "id");
	}
	if (!id) {
		if (ndjson_line_id(doc, r->line, &s) ||
		    json_object_insert(doc, rec, 0, "id", s))
			goto nomem;
		return LM_OK;
	}
	switch (json_type(id)) {
	case JSON_STRING:
		return LM_OK;
	case JSON_NUMBER:
		t = json_number_text(id, &len, buf);
		s = json_new_string(doc, t, len);
		if (!s || json_object_set(doc, rec, "id", s))
			goto nomem;
		return LM_OK;
	default:
		return lm_fail(err, LM_EFORMAT, "%s:%llu: \"id\" must be a string or a number, not %s",
			       r->in->name, (unsigned long long)r->line,
			       json_type_name(json_type(id)));
	}
nomem:
	return lm_fail(err, LM_ENOMEM, "%s:%llu: out of memory", r->in->name,
		       (unsigned long long)r->line);
}

static int ndjson_is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int ndjson_next_into(struct ndjson_reader *r, struct json_doc *doc, struct json_value **rec,
		     struct lm_error *err)
{
	const char *name = r->in->name;
	char *line;
	size_t len, skip = 0, bad, i;
	int rc;

	for (;;) {
		rc = input_line(r->in, &line, &len, r->max_line, err);
		if (rc)
			return rc;
		r->line = r->in->line;
		if (r->line == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3))
			skip = 3;
		else
			skip = 0;
		if (len > skip && line[len - 1] == '\r')
			len--;
		if (!ndjson_is_blank(line + skip, len - skip))
			break;
	}
	{
		const char *nul = memchr(line, '\0', len);

		bad = utf8_validate(line, nul ? (size_t)(nul - line) : len);
		if (nul && bad == (size_t)(nul - line))
			return lm_fail(err, LM_EFORMAT, "%s:%llu:%zu: NUL byte in line", name,
				       (unsigned long long)r->line, bad + 1);
		if (bad < len)
			return lm_fail(err, LM_EFORMAT, "%s:%llu:%zu: invalid UTF-8", name,
				       (unsigned long long)r->line, bad + 1);
	}
	for (i = skip; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (line[i] == '{') {
		size_t off = 0;

		rc = json_parse_at(doc, line + skip, len - skip, rec, &off, err);
		if (rc == LM_EFORMAT)
			return lm_error_prefix(err, "%s:%llu:%zu: ", name, (unsigned long long)r->line,
					       skip + off + 1);
		if (rc)
			return lm_error_prefix(err, "%s:%llu: ", name, (unsigned long long)r->line);
		rc = ndjson_fix_id(r, doc, *rec, err);
		if (rc)
			return rc;
	} else {
		struct json_value *obj = json_new_object(doc), *id = NULL, *text;

		text = json_new_string(doc, line + skip, len - skip);
		if (!obj || !text || ndjson_line_id(doc, r->line, &id) ||
		    json_object_set(doc, obj, "id", id) || json_object_set(doc, obj, "text", text))
			return lm_fail(err, LM_ENOMEM, "%s:%llu: out of memory", name,
				       (unsigned long long)r->line);
		*rec = obj;
	}
	r->records++;
	return LM_OK;
}

int ndjson_next(struct ndjson_reader *r, struct json_value **rec, struct lm_error *err)
{
	json_doc_reset(r->doc);
	return ndjson_next_into(r, r->doc, rec, err);
}

const char *ndjson_record_text(struct json_doc *doc, const struct json_value *rec, size_t *len)
{
	size_t tlen = 0, xlen = 0;
	const char *title = json_string(json_get(rec, "title"), &tlen);
	const char *text = json_string(json_get(rec, "text"), &xlen);
	struct json_value *joined;
	char *buf;

	if (!title || !tlen) {
		*len = xlen;
		return text;
	}
	if (!text || !xlen) {
		*len = tlen;
		return title;
	}
	buf = malloc(tlen + 1 + xlen);
	if (!buf)
		return NULL;
	memcpy(buf, title, tlen);
	buf[tlen] = ' ';
	memcpy(buf + tlen + 1, text, xlen);
	joined = json_new_string(doc, buf, tlen + 1 + xlen);
	free(buf);
	return json_string(joined, len);
}

int ndjson_write(struct output *out, const struct json_value *rec, struct lm_error *err)
{
	int rc;

	if (json_type(rec) != JSON_OBJECT)
		return lm_fail(err, LM_EINVAL, "%s: record is %s, not an object", out->name,
			       json_type_name(json_type(rec)));
	rc = json_write(out, rec, err);
	if (rc == LM_EINVAL)
		return lm_error_prefix(err, "%s: ", out->name);
	if (rc)
		return rc;
	return output_byte(out, '\n', err);
}
