#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Checks that the fleet artefacts only use what lmtrace exports.

    check_names.py METRICS.prom RULES.yml RULES_TEST.yml DASHBOARD.json OUT_DIR

METRICS.prom is a textfile written by the real binary (--prom-file): its
`# TYPE` lines are the metric families lmtrace exports, its samples give the
label names and the values of the state-set labels (verdict, phase, source).

- every metric name in the rules' expressions and in the dashboard's queries
  (panels and template variables) is an exported family, or `up`;
- every verdict="..."/phase="..."/source="..." value they match on exists;
- every lmtrace_* name anywhere in the two files (the queries the alert
  templates make, comments, descriptions) is an exported family;
- every input series of the promtool tests is an exported family (or `up`)
  with lmtrace's labels plus job and instance: the tests feed series shaped
  like the real ones;
- the dashboard has panels, a recent schemaVersion and a ${DS_PROMETHEUS}
  datasource input, and every panel queries that datasource.

Writes OUT_DIR/dashboard.rules.yml (each dashboard query as a recording rule,
Grafana's variables replaced) for `promtool check rules` to parse. Standard
library only: the YAML is read line by line, which is enough for the `expr:`
and `series:` keys of these two files (t_fleet.sh cross-checks the count).
"""
import json
import os
import re
import sys

ALLOWED_OTHER = {"up"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan", "atan2", "start", "end"}
STATE_LABELS = ("verdict", "phase", "source")

errors = []


def err(msg):
    errors.append(msg)


def read_exported(path):
    """{family: set(label names)}, {label: set(values)} from a textfile."""
    families, values = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                families.setdefault(m.group(1), set())
                continue
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            if not m:
                err(f"{path}: cannot read sample line: {line.strip()}")
                continue
            for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""):
                families.setdefault(m.group(1), set()).add(k)
                values.setdefault(k, set()).add(v)
    # every lmtrace series carries pid and vm (README "Prometheus metrics"),
    # also the families that had no sample in this file
    for labels in families.values():
        labels.update({"pid", "vm"})
    return families, values


def yaml_values(path, key):
    """The values of `key:` (plain, quoted, or a | / > block) in a YAML file."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    pat = re.compile(r"^(\s*)(?:- )?" + re.escape(key) + r":\s*(.*)$")
    while i < len(lines):
        m = pat.match(lines[i])
        i += 1
        if not m:
            continue
        indent, val = len(m.group(1)), m.group(2).strip()
        if val[:1] in ("|", ">"):
            block = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            out.append("\n".join(block).strip())
        elif val[:1] in ("'", '"'):
            q = val[0]
            body = val[1:val.rindex(q)] if val.rindex(q) > 0 else val[1:]
            out.append(body.replace("''", "'") if q == "'" else body)
        else:
            out.append(val.split(" #")[0])
    return out


GRAFANA_VARS = [(r"\$__rate_interval|\$\{__rate_interval\}", "5m"),
                (r"\$__interval|\$\{__interval\}", "1m"),
                (r"\$__range|\$\{__range\}", "1h"),
                (r"\$\{?[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}?", ".*")]


def grafana_to_promql(expr):
    for pat, rep in GRAFANA_VARS:
        expr = re.sub(pat, rep, expr)
    return expr


def names_in(expr):
    """(metric names, [(label, value)] of equality matchers) in a PromQL expression."""
    matchers = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"', expr)
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    toks = re.findall(r"[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*|\S", s)
    names = set()
    for i, t in enumerate(toks):
        if not re.match(r"[a-zA-Z_:]", t) or t.lower() in KEYWORDS:
            continue
        if i + 1 < len(toks) and toks[i + 1] == "(":
            continue        # a function or an aggregation
        names.add(t)
    return names, matchers


def check_expr(where, expr, families, values):
    names, matchers = names_in(expr)
    if not names:
        err(f"{where}: no metric found in: {expr}")
    for n in sorted(names):
        if n not in families and n not in ALLOWED_OTHER:
            err(f"{where}: {n} is not a metric lmtrace exports (nor up)")
    for k, v in matchers:
        if k in STATE_LABELS and v not in values.get(k, ()):
            err(f'{where}: {k}="{v}" is no value lmtrace exports for {k} '
                f'({", ".join(sorted(values.get(k, ()))) or "none"})')
    return names


def check_mentions(path, families):
    """Any lmtrace_* name in the file, except inside recorded names (a:b:c)."""
    text = open(path, encoding="utf-8").read()
    for n in sorted(set(re.findall(r"(?<![:\w])lmtrace_[a-zA-Z0-9_]*(?![:\w])", text))):
        if n not in families:
            err(f"{path}: mentions {n}, which lmtrace does not export")


def check_rules(path, families, values):
    check_mentions(path, families)
    used = set()
    exprs = yaml_values(path, "expr")
    for n, e in enumerate(exprs, 1):
        used |= check_expr(f"{path}: expr {n}", e, families, values)
    return len(exprs), used


def check_tests(path, families):
    n = 0
    for s in yaml_values(path, "series"):
        n += 1
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$", s)
        if not m:
            err(f"{path}: cannot read series {s}")
            continue
        name, labels = m.group(1), set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=", m.group(2)))
        if name in ALLOWED_OTHER:
            continue
        if name not in families:
            err(f"{path}: input series {name} is not a metric lmtrace exports")
            continue
        extra = labels - families[name] - {"job", "instance"}
        if extra:
            err(f"{path}: {s}: labels {sorted(extra)} are not lmtrace's for {name} "
                f"({sorted(families[name])})")
        missing = (families[name] - {"job", "instance"}) - labels
        if missing:
            err(f"{path}: {s}: lacks lmtrace's labels {sorted(missing)}")
    return n


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def check_dashboard(path, families, values, out_dir):
    try:
        d = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        err(f"{path}: not JSON: {e}")
        return 0, set()
    check_mentions(path, families)
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
        err(f"{path}: schemaVersion {d.get('schemaVersion')}: want 36 (Grafana 9) or later")
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
               for i in d.get("__inputs", [])):
        err(f"{path}: no DS_PROMETHEUS datasource input in __inputs")
    panels = [p for p in walk_panels(d.get("panels", [])) if p.get("type") != "row"]
    if not panels:
        err(f"{path}: no panels")
    exprs, used = [], set()
    for p in panels:
        where = f"{path}: panel {p.get('id')} \"{p.get('title')}\""
        if not p.get("targets"):
            err(f"{where}: no query")
        for t in [p] + p.get("targets", []):
            uid = (t.get("datasource") or {}).get("uid")
            if uid != "${DS_PROMETHEUS}":
                err(f"{where}: datasource {uid!r}, want ${{DS_PROMETHEUS}}")
        for t in p.get("targets", []):
            e = grafana_to_promql(t.get("expr", ""))
            used |= check_expr(where, e, families, values)
            exprs.append(e)
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else q or ""
        m = re.match(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", q)
        if not m:
            err(f"{path}: variable {v.get('name')}: not a label_values(metric, label) query: {q}")
            continue
        e = grafana_to_promql(m.group(1))
        used |= check_expr(f"{path}: variable {v.get('name')}", e, families, values)
        exprs.append(e)
    with open(os.path.join(out_dir, "dashboard.rules.yml"), "w", encoding="utf-8") as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for n, e in enumerate(exprs, 1):
            f.write(f"      - record: dashboard:query_{n}\n        expr: |\n")
            for line in e.split("\n"):
                f.write(f"          {line}\n")
    return len(exprs), used


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__.split("\n\n")[1])
    prom, rules, tests, dash, out_dir = sys.argv[1:]
    families, values = read_exported(prom)
    if not families:
        err(f"{prom}: no # TYPE line: not lmtrace's metrics")
    n_rules, used_r = check_rules(rules, families, values)
    n_series = check_tests(tests, families)
    n_dash, used_d = check_dashboard(dash, families, values, out_dir)
    for e in errors:
        print("FAIL:", e)
    print(f"{len(families)} exported families; rules: {n_rules} expressions using "
          f"{len(used_r)} metrics; tests: {n_series} input series; dashboard: "
          f"{n_dash} queries using {len(used_d)} metrics")
    print(f"rules_exprs={n_rules}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
