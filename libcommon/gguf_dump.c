/* gguf_dump.c - the stable text listing of a GGUF file (format in gguf.h;
 * tests/ref/gguf_dump.py is the independent reference). */
#include "gguf.h"
#include "gguf_impl.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int dump_string(struct output *out, const unsigned char *s, uint64_t n, struct lm_error *err)
{
	uint64_t i = 0, run = 0;
	int rc;

	if ((rc = output_byte(out, '"', err)))
		return rc;
	while (i < n) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char buf[8];
		uint32_t cp;
		int k;

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\t': esc = "\\t"; break;
		case '\r': esc = "\\r"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		}
		k = utf8_decode(s + i, (size_t)(n - i), &cp);
		if (!esc && k && c >= 0x20 && c != 0x7f) {
			i += (uint64_t)k;
			run += (uint64_t)k;
			continue;
		}
		/* Flush the run of plain bytes before the escape. */
		if (run && (rc = output_write(out, s + i - run, (size_t)run, err)))
			return rc;
		run = 0;
		if (!esc) {
			snprintf(buf, sizeof buf, k ? "\\u%04x" : "\\x%02x", c);
			esc = buf;
		}
		if ((rc = output_str(out, esc, err)))
			return rc;
		i++;
	}
	if (run && (rc = output_write(out, s + i - run, (size_t)run, err)))
		return rc;
	return output_byte(out, '"', err);
}

/* gguf-py (and so the reference) names the ggml types by their ggml names in
 * upper case: "q4_K" is Q4_K.  ASCII only, whatever the locale. */
static int dump_type_name(struct output *out, enum dtype type, struct lm_error *err)
{
	const char *name = dtype_name(type);
	char upper[32];
	size_t i;

	for (i = 0; name[i] && i < sizeof upper - 1; i++)
		upper[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A') : name[i];
	upper[i] = '\0';
	return output_str(out, upper, err);
}

static int dump_float(struct output *out, double v, int digits, struct lm_error *err)
{
	if (isnan(v))
		return output_str(out, "nan", err);
	if (isinf(v))
		return output_str(out, v < 0 ? "-inf" : "inf", err);
	return output_printf(out, err, "%.*g", digits, v);
}

/* One value of a fixed-size type, or a string at P (its length field). */
static int dump_value(struct output *out, uint32_t type, const unsigned char *p, struct lm_error *err)
{
	uint32_t b32;
	uint64_t b64;
	float f;
	double d;

	switch (type) {
	case GGUF_TYPE_UINT8: return output_printf(out, err, "%u", p[0]);
	case GGUF_TYPE_INT8: return output_printf(out, err, "%d", (int8_t)p[0]);
	case GGUF_TYPE_UINT16: return output_printf(out, err, "%u", gguf_le16(p));
	case GGUF_TYPE_INT16: return output_printf(out, err, "%d", (int16_t)gguf_le16(p));
	case GGUF_TYPE_UINT32: return output_printf(out, err, "%u", gguf_le32(p));
	case GGUF_TYPE_INT32: return output_printf(out, err, "%d", (int32_t)gguf_le32(p));
	case GGUF_TYPE_UINT64:
		return output_printf(out, err, "%llu", (unsigned long long)gguf_le64(p));
	case GGUF_TYPE_INT64:
		return output_printf(out, err, "%lld", (long long)(int64_t)gguf_le64(p));
	case GGUF_TYPE_BOOL: return output_str(out, p[0] ? "true" : "false", err);
	case GGUF_TYPE_FLOAT32:
		b32 = gguf_le32(p);
		memcpy(&f, &b32, 4);
		return dump_float(out, f, 9, err);
	case GGUF_TYPE_FLOAT64:
		b64 = gguf_le64(p);
		memcpy(&d, &b64, 8);
		return dump_float(out, d, 17, err);
	default:
		return dump_string(out, p + 8, gguf_le64(p), err);
	}
}

static int dump_kv(const struct gguf_kv *kv, struct output *out, struct lm_error *err)
{
	unsigned esize = gguf_value_size(kv->elem_type);
	int rc;

	if ((rc = output_str(out, "kv ", err)) ||
	    (rc = dump_string(out, (const unsigned char *)kv->key, kv->key_len, err)))
		return rc;
	if (kv->type == GGUF_TYPE_STRING) {
		if ((rc = output_str(out, " string ", err)) ||
		    (rc = dump_string(out, kv->data, kv->count, err)))
			return rc;
		return output_byte(out, '\n', err);
	}
	if (kv->type != GGUF_TYPE_ARRAY) {
		if ((rc = output_printf(out, err, " %s ", gguf_value_type_name(kv->type))) ||
		    (rc = dump_value(out, kv->type, kv->data, err)))
			return rc;
		return output_byte(out, '\n', err);
	}
	if ((rc = output_printf(out, err, " array[%s] %llu\n", gguf_value_type_name(kv->elem_type),
				(unsigned long long)kv->count)))
		return rc;
	for (uint64_t i = 0; i < kv->count; i++) {
		const unsigned char *p = esize ? kv->data + i * esize : kv->data + kv->str_off[i];

		if ((rc = output_printf(out, err, "\t%llu ", (unsigned long long)i)) ||
		    (rc = dump_value(out, kv->elem_type, p, err)) ||
		    (rc = output_byte(out, '\n', err)))
			return rc;
	}
	return LM_OK;
}

static int dump_all(const struct gguf_file *f, struct output *out, struct lm_error *err)
{
	int rc;

	if ((rc = output_printf(out, err, "gguf version %u\nalignment %u\ndata_offset %llu\n"
				"kv_count %llu\ntensor_count %llu\n", f->version, f->alignment,
				(unsigned long long)f->data_offset, (unsigned long long)f->n_kv,
				(unsigned long long)f->n_tensors)))
		return rc;
	for (uint64_t i = 0; i < f->n_kv; i++)
		if ((rc = dump_kv(&f->kvs[i], out, err)))
			return rc;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];

		if ((rc = output_str(out, "tensor ", err)) ||
		    (rc = dump_string(out, (const unsigned char *)t->name, t->name_len, err)) ||
		    (rc = output_byte(out, ' ', err)) ||
		    (rc = dump_type_name(out, t->type, err)) ||
		    (rc = output_str(out, " [", err)))
			return rc;
		for (uint32_t d = 0; d < t->n_dims; d++)
			if ((rc = output_printf(out, err, "%s%lld", d ? ", " : "", (long long)t->ne[d])))
				return rc;
		if ((rc = output_printf(out, err, "] offset %llu size %llu\n",
					(unsigned long long)t->offset, (unsigned long long)t->nbytes)))
			return rc;
	}
	return LM_OK;
}

int gguf_dump(const struct gguf_file *f, struct output *out, struct lm_error *err)
{
	/* Numbers in the C locale whatever the program set (SPEC: floats are
	 * printed locale-independently). */
	locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
	int rc = dump_all(f, out, err);

	if (c_locale) {
		uselocale(old);
		freelocale(c_locale);
	}
	return rc;
}
