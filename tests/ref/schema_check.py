#!/usr/bin/python3
"""schema_check.py - an independent JSON Schema check of generate's output.

Usage: schema_check.py SCHEMA.json [--field text] [--finish stop] < records.ndjson

Each input line is a generate record; its FIELD (default "text") must be one
strict JSON text (RFC 8259: no NaN/Infinity, no duplicate keys) valid under
SCHEMA, and with --finish its finish_reason must be that value.  Prints one
line per failure and a summary; exits 1 if any record fails.

The validator implements JSON Schema (draft 2020-12 meaning) for the
keywords below directly from the specification, independently of lmpipe's
grammar: type, enum, const, properties, required, additionalProperties
(absent means any extra property is allowed, as the specification says),
items, minItems, maxItems, uniqueItems, minLength, maxLength, anyOf, oneOf
(exactly one), allOf, not, $ref (#, #/definitions/X, #/$defs/X).  Any other
keyword is an error, so a test cannot pass by ignoring it.
"""
import json
import sys

ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "default", "examples",
               "deprecated", "readOnly", "writeOnly", "definitions", "$defs"}
KNOWN = ANNOTATIONS | {"type", "enum", "const", "properties", "required", "additionalProperties",
                       "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
                       "anyOf", "oneOf", "allOf", "not", "$ref"}


class Invalid(Exception):
    pass


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def has_type(v, t):
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    if t == "number":
        return is_number(v)
    if t == "integer":
        return is_number(v) and float(v).is_integer()
    raise Invalid("unknown type %r in the schema" % t)


def equal(a, b):
    """JSON equality: booleans are not numbers; 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return type(a) == type(b) and a == b


def resolve(root, ref):
    if ref == "#":
        return root
    for prefix, key in (("#/definitions/", "definitions"), ("#/$defs/", "$defs")):
        if ref.startswith(prefix):
            name = ref[len(prefix):].replace("~1", "/").replace("~0", "~")
            return root[key][name]
    raise Invalid("unsupported $ref %r" % ref)


def validate(root, s, v, path="$"):
    if s is True:
        return
    if s is False:
        raise Invalid("%s: the schema false" % path)
    for k in s:
        if k not in KNOWN:
            raise Invalid("keyword %r is not implemented by this checker" % k)
    if "$ref" in s:
        validate(root, resolve(root, s["$ref"]), v, path)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(has_type(v, t) for t in types):
            raise Invalid("%s: %r is not of type %s" % (path, v, types))
    if "enum" in s and not any(equal(v, e) for e in s["enum"]):
        raise Invalid("%s: %r is not in the enum" % (path, v))
    if "const" in s and not equal(v, s["const"]):
        raise Invalid("%s: %r is not the const" % (path, v))
    if isinstance(v, dict):
        props = s.get("properties", {})
        for name in s.get("required", []):
            if name not in v:
                raise Invalid("%s: required property %r missing" % (path, name))
        for name, x in v.items():
            if name in props:
                validate(root, props[name], x, "%s.%s" % (path, name))
            elif "additionalProperties" in s:
                validate(root, s["additionalProperties"], x, "%s.%s" % (path, name))
    if isinstance(v, list):
        if "items" in s:
            for i, x in enumerate(v):
                validate(root, s["items"], x, "%s[%d]" % (path, i))
        if len(v) < s.get("minItems", 0):
            raise Invalid("%s: fewer than minItems" % path)
        if "maxItems" in s and len(v) > s["maxItems"]:
            raise Invalid("%s: more than maxItems" % path)
        if s.get("uniqueItems") and any(equal(v[i], v[j]) for i in range(len(v)) for j in range(i)):
            raise Invalid("%s: items not unique" % path)
    if isinstance(v, str):
        if len(v) < s.get("minLength", 0):
            raise Invalid("%s: shorter than minLength" % path)
        if "maxLength" in s and len(v) > s["maxLength"]:
            raise Invalid("%s: longer than maxLength" % path)
    for sub in s.get("allOf", []):
        validate(root, sub, v, path)
    if "anyOf" in s:
        ok = 0
        for sub in s["anyOf"]:
            try:
                validate(root, sub, v, path)
                ok += 1
            except Invalid:
                pass
        if not ok:
            raise Invalid("%s: %r matches no anyOf branch" % (path, v))
    if "oneOf" in s:
        ok = 0
        for sub in s["oneOf"]:
            try:
                validate(root, sub, v, path)
                ok += 1
            except Invalid:
                pass
        if ok != 1:
            raise Invalid("%s: %r matches %d oneOf branches" % (path, v, ok))
    if "not" in s:
        try:
            validate(root, s["not"], v, path)
        except Invalid:
            return
        raise Invalid("%s: %r matches the not schema" % (path, v))


def strict_loads(text):
    def no_constant(name):
        raise ValueError("%s is not JSON" % name)

    def no_dupes(pairs):
        d = {}
        for k, x in pairs:
            if k in d:
                raise ValueError("duplicate key %r" % k)
            d[k] = x
        return d
    return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_dupes)


def main():
    args = sys.argv[1:]
    field, finish = "text", None
    if "--field" in args:
        i = args.index("--field")
        field = args[i + 1]
        del args[i:i + 2]
    if "--finish" in args:
        i = args.index("--finish")
        finish = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0]) as f:
        schema = json.load(f)
    n = bad = 0
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        n += 1
        rec = json.loads(line)
        try:
            if finish is not None and rec.get("finish_reason") != finish:
                raise Invalid("finish_reason %r, not %r" % (rec.get("finish_reason"), finish))
            try:
                value = strict_loads(rec[field])
            except ValueError as e:
                raise Invalid("not JSON (%s)" % e)
            validate(schema, schema, value)
        except Invalid as e:
            bad += 1
            print("record %d: %s: %r" % (lineno, e, rec.get(field)))
    print("%d records, %d invalid" % (n, bad))
    sys.exit(1 if bad or not n else 0)


if __name__ == "__main__":
    main()
