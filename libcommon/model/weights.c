#include "model/weights.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "quant.h"

int weights_tensor(const struct gguf_file *file, const char *arch, struct tensor *t, const char *name,
		   int64_t ne0, int64_t ne1, int required, struct lm_error *err)
{
	const struct gguf_tensor *gt = gguf_find_tensor(file, name);
	int n_dims = ne1 ? 2 : 1;
	int64_t ne[2] = { ne0, ne1 };

	memset(t, 0, sizeof(*t));
	if (!gt) {
		if (!required)
			return LM_OK;
		return lm_fail(err, LM_EFORMAT, "%s: tensor '%s' is missing (arch %s)", file->name, name,
			       arch);
	}
	if (gt->ne[0] != ne0 || gt->ne[1] != (ne1 ? ne1 : 1) || gt->ne[2] != 1 || gt->ne[3] != 1)
		return lm_fail(err, LM_EFORMAT, "%s: tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %"
			       PRId64 ", %" PRId64 "], expected [%" PRId64 ", %" PRId64 "]", file->name,
			       name, gt->ne[0], gt->ne[1], gt->ne[2], gt->ne[3], ne0, ne1 ? ne1 : 1);
	if (!quant_supported(gt->type))
		return lm_fail(err, LM_EFORMAT, "%s: tensor '%s' has type %s, which is not supported",
			       file->name, name, dtype_name(gt->type));
	/* norms and biases are read as plain floats (every writer keeps them F32) */
	if (n_dims == 1 && gt->type != DTYPE_F32)
		return lm_fail(err, LM_EFORMAT, "%s: tensor '%s' is %s; 1-D tensors must be f32",
			       file->name, name, dtype_name(gt->type));
	return tensor_init(t, gt->type, n_dims, ne, (void *)gt->data, err);
}

int weights_u32(const struct gguf_file *file, const char *arch, const char *key, int *v, int required,
		struct lm_error *err)
{
	char full[128];
	uint32_t u;
	int rc;

	snprintf(full, sizeof(full), "%s.%s", arch, key);
	if (!required && !gguf_find_kv(file, full))
		return LM_OK;
	rc = gguf_get_u32(file, full, &u, err);
	if (rc)
		return rc;
	if (u == 0 || u > (1u << 24))
		return lm_fail(err, LM_EFORMAT, "%s: %s = %u is out of range", file->name, full, u);
	*v = (int)u;
	return LM_OK;
}

int weights_f32(const struct gguf_file *file, const char *arch, const char *key, float *v, int required,
		struct lm_error *err)
{
	char full[128];

	snprintf(full, sizeof(full), "%s.%s", arch, key);
	if (!required && !gguf_find_kv(file, full))
		return LM_OK;
	return gguf_get_f32(file, full, v, err);
}
