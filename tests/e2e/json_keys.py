# SPDX-License-Identifier: Apache-2.0
"""Every key a JSON report emits is documented in docs/json.md.

  json_keys.py DOC DIR     check the reports in DIR against DOC
  json_keys.py --list DIR  print the key paths the reports in DIR emit

DIR holds reports named KIND.NAME.json (one document) or KIND.NAME.jsonl
(one object per line), KIND being scan, plan, apply, verify, journal or trace
(tests/e2e/json_documented.sh makes them from the samples).

A key path names a key by the keys above it: "sections[].name" is "name" in
each object of the array "sections"; a key whose value is an array of
scalars or an object is listed itself too ("imports", "checksum"). The doc's
"Field reference" section has one table per part of a report (its heading
says which: "### Document", "### Image", ...), the first cell of each row
listing the path(s) in backticks."""
import json
import os
import re
import sys


def paths(v, prefix=""):
    """The key paths under v."""
    out = set()
    if isinstance(v, dict):
        for k, x in v.items():
            p = prefix + "." + k if prefix else k
            out.add(p)
            out |= paths(x, p)
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)):
                out |= paths(x, prefix + "[]")
    return out


# What each report kind's objects are made of: (part of the report, the doc
# tables whose keys it may use). The findings objects and the driver object
# have tables of their own, wherever they appear.
PARTS = {
    "scan": ["Image"],
    "plan": ["Image", "Plan"],
    "apply": ["Image", "Plan", "Apply"],
    "verify": ["Verify"],
    "journal": ["Journal"],
    "trace": ["Trace"],
}
SUBTABLES = {"findings[]": "Finding", "driver": "Driver", "driver.findings[]": None}


def split(p):
    """(table of p's innermost sub-object, p relative to it)."""
    best = None
    for head, table in SUBTABLES.items():
        for m in re.finditer(re.escape(head), p):
            if m.start() == 0 or p[m.start() - 1] in ".[]":
                end = m.end()
                if end == len(p):
                    continue        # the key itself belongs to the outer table
                # the innermost sub-object; at a tie the longer head (the
                # driver's own findings are part of the Driver table)
                if best is None or end > best[0] or (end == best[0] and len(head) > best[2]):
                    best = (end, table, len(head))
    if best is None:
        return None, p
    if best[1] is None:     # driver.findings[]: in the Driver table, by its full path
        return "Driver", p[p.index("driver.") + len("driver."):]
    rest = p[best[0]:]
    return best[1], rest[1:] if rest.startswith(".") else rest


def report_paths(kind, path):
    """[(tables allowed, key path)] of one report file."""
    out = []
    text = open(path, encoding="utf-8").read()
    if path.endswith(".jsonl"):
        objs = [json.loads(line) for line in text.splitlines() if line.strip()]
        docs = []
        for o in objs:
            if kind == "journal":
                docs.append(("item", o))
            elif set(o) == {"summary"}:
                docs.append(("jsonl-summary", o))
            else:
                docs.append(("item", o))
    else:
        d = json.loads(text)
        docs = [("document", {k: v for k, v in d.items() if k != "files"})]
        docs.append(("document", {"files": []}))
        docs += [("item", f) for f in d.get("files", [])]
    for what, o in docs:
        if what == "document" or what == "jsonl-summary":
            tables = ["Document"] if what == "document" else ["JSONL"]
            for p in paths(o):
                out.append((tables, p))
            continue
        tables = PARTS[kind] + (["JSONL"] if path.endswith(".jsonl") and kind not in ("journal", "trace") else [])
        if o.get("status") == "error" and kind != "journal":
            tables = tables + ["Failure"]
        for p in paths(o):
            sub, rel = split(p)
            out.append(([sub] if sub else tables, rel))
    return out


def documented(doc):
    """{table: set of paths} from DOC's Field reference section."""
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"^## Field reference\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        sys.exit("%s: no '## Field reference' section" % doc)
    tables, cur = {}, None
    for line in m.group(1).splitlines():
        h = re.match(r"^### (\w+)", line)
        if h:
            cur = tables.setdefault(h.group(1), set())
            continue
        if cur is not None and line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            first = line.split("|")[1]
            for k in re.findall(r"`([^`]+)`", first):
                cur.add(k)
    return tables


def collect(d):
    for name in sorted(os.listdir(d)):
        m = re.match(r"^(scan|plan|apply|verify|journal|trace)\..*\.jsonl?$", name)
        if m:
            yield m.group(1), os.path.join(d, name)


def main():
    if sys.argv[1] == "--list":
        seen = {}
        for kind, f in collect(sys.argv[2]):
            for tables, p in report_paths(kind, f):
                seen.setdefault((tables[0] if len(tables) == 1 else "/".join(tables), p), f)
        for (t, p) in sorted(seen):
            print("%-24s %s" % (t, p))
        return
    doc, d = sys.argv[1], sys.argv[2]
    tables = documented(doc)
    missing, n = {}, 0
    for kind, f in collect(d):
        for allowed, p in report_paths(kind, f):
            n += 1
            if not any(p in tables.get(t, ()) for t in allowed):
                missing.setdefault((" or ".join(allowed), p), os.path.basename(f))
    for (t, p), f in sorted(missing.items()):
        print("undocumented: %s key `%s` (emitted in %s)" % (t, p, f), file=sys.stderr)
    if missing:
        print("%d key path(s) are not in %s's Field reference" % (len(missing), doc), file=sys.stderr)
        sys.exit(1)
    print("json_keys: %d key uses in %d reports, all documented" % (n, len(list(collect(d)))))


if __name__ == "__main__":
    main()
