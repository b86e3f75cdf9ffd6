/* jinja.h - the subset of Jinja2 that model chat templates use.
 *
 * A template is parsed once into a tree and rendered any number of times
 * against variables given as a JSON object (messages, add_generation_prompt,
 * bos_token, ...).  The semantics follow the engine that transformers.js
 * renders chat templates with (@huggingface/jinja), itself modelled on
 * Jinja2 as configured by transformers: trim_blocks and lstrip_blocks on,
 * one trailing newline of the template dropped.
 *
 * What the module promises:
 *  - Statements: if/elif/else, for (tuple targets, `if` filter, else,
 *    loop.index/index0/revindex/revindex0/first/last/length/previtem/
 *    nextitem), set (name, tuple, namespace attribute, block form), macro
 *    (positional, keyword and default arguments), break, continue; comments
 *    and {%- -%} / {{- -}} / {#- -#} whitespace control.
 *  - Expressions: string/int/float literals, lists, tuples, dicts,
 *    attribute and subscript access, slices [a:b:c], calls, not/and/or,
 *    comparisons, in / not in, + - * / // % **, ~, a if c else b.
 *  - Filters: tojson (indent, ensure_ascii, separators), trim, length,
 *    upper, lower, title, capitalize, default, first, last, join, replace,
 *    items, string, list, reverse, unique, int, float, abs, indent, safe,
 *    selectattr, rejectattr, map(attribute=).  Tests: defined, undefined,
 *    none, string, number, integer, boolean, true, false, mapping,
 *    iterable, sequence, callable, odd, even, lower, upper, equalto.
 *  - String methods: strip/lstrip/rstrip (optional characters, as in
 *    Python), startswith/endswith (string or tuple), split, replace, upper,
 *    lower, title, capitalize; dict methods items/keys/values/get.
 *    Globals: namespace(), range(), raise_exception(), strftime_now().
 *  - Every error (syntax, unknown filter or test, type error,
 *    raise_exception) is LM_EFORMAT with "template line L, column C: ..."
 *    naming the place in the template source.
 *
 * Not supported: {% call %}, {% filter %}, {% include/extends/block %},
 * the transformers-only {% generation %} tag, tests with arguments
 * (`is divisibleby(3)`), argument unpacking (* and **) in calls.
 */
#ifndef LMPIPE_JINJA_H
#define LMPIPE_JINJA_H

#include <stddef.h>

#include "error.h"
#include "json.h"

struct jinja_template;

/* Parse SRC[0..LEN) into *OUT.  The source is copied. */
int jinja_template_new(struct jinja_template **out, const char *src, size_t len,
		       struct lm_error *err);
void jinja_template_free(struct jinja_template *t);

/* Render with the members of the JSON object VARS (may be NULL) as global
 * variables.  JSON numbers that are integers become ints, others floats.
 * *OUT is a malloc'd NUL-terminated string (free it); *OUT_LEN may be NULL. */
int jinja_render(const struct jinja_template *t, const struct json_value *vars, char **out,
		 size_t *out_len, struct lm_error *err);

#endif
