"""A small interpreter of the CloudWatch Logs Insights query language (and of metric filter
patterns), for the subset template.yaml's saved queries and alarms use: `fields` (with
`coalesce(a, b) as c`, `substr(f, start, length) as c`), `filter` (=, !=, <, <=, >, >=, `like /re/`, `in [...]`,
`ispresent(f)`, and/or/not, parentheses), `stats` (count(*), sum, min, max, latest,
earliest ... `as` name `by` fields), `sort f asc|desc`, `limit n`. It runs the queries
against the JSON lines the functions print, so a test can check that each query names
fields that exist and selects what it says. Not a full implementation: anything else is
an error, never ignored."""
from __future__ import annotations

import json
import re
from pathlib import Path

TOKEN = re.compile(r'''\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<re>/(?:[^/\\]|\\.)+/)|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>!=|>=|<=|=|<|>|\(|\)|\[|\]|,|\*)|(?P<name>[@A-Za-z_][\w.@]*))''')
KEYWORDS = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc"}
FUNCTIONS = {"coalesce", "ispresent", "count", "sum", "min", "max", "latest", "earliest"}


def lines(log_dir: Path) -> list[dict]:
    """Every JSON line of every log, as Logs Insights would discover its fields."""
    out = []
    for path in sorted(log_dir.glob("*.log")):
        for raw in path.read_text(errors="replace").splitlines():
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            stamp = doc.get("timestamp") or doc.get("_aws", {}).get("Timestamp")
            doc["@timestamp"] = stamp if isinstance(stamp, str) else str(stamp)
            doc["@message"] = raw
            out.append(doc)
    return out


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def split_commands(query: str) -> list[str]:
    parts, cur, quote = [], "", None
    for ch in query:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"/":
            quote = ch
        if ch == "|":
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    parts.append(cur.strip())
    return [p for p in parts if p]


class Expr:
    """Recursive descent over filter expressions; evaluates against one line."""

    def __init__(self, text: str):
        self.toks = tokens(text)
        self.i = 0
        self.names: set[str] = set()
        self.tree = self.parse_or()
        if self.i != len(self.toks):
            raise ValueError(f"unexpected {self.toks[self.i]} in {text!r}")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise ValueError(f"expected {value}, got {tok}")
        self.i += 1
        return tok

    def parse_or(self):
        left = self.parse_and()
        while self.peek()[1] == "or":
            self.take()
            left = ("or", left, self.parse_and())
        return left

    def parse_and(self):
        left = self.parse_not()
        while self.peek()[1] == "and":
            self.take()
            left = ("and", left, self.parse_not())
        return left

    def parse_not(self):
        if self.peek()[1] == "not":
            self.take()
            return ("not", self.parse_not())
        return self.parse_cmp()

    def value(self):
        kind, v = self.take()
        if kind == "str":
            return ("lit", json.loads(v))
        if kind == "num":
            return ("lit", float(v))
        if kind == "name" and v not in KEYWORDS:
            self.names.add(v)
            return ("field", v)
        raise ValueError(f"expected a value, got {v!r}")

    def parse_cmp(self):
        kind, v = self.peek()
        if v == "(":
            self.take()
            inner = self.parse_or()
            self.take(")")
            return inner
        if v == "ispresent":
            self.take()
            self.take("(")
            _, name = self.take()
            self.names.add(name)
            self.take(")")
            return ("present", name)
        left = self.value()
        op = self.take()[1]
        if op == "like":
            kind, pattern = self.take()
            if kind == "str":
                return ("like", left, re.compile(re.escape(json.loads(pattern))))
            return ("like", left, re.compile(pattern[1:-1]))
        if op == "in":
            self.take("[")
            items = [self.value()]
            while self.peek()[1] == ",":
                self.take()
                items.append(self.value())
            self.take("]")
            return ("in", left, items)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return ("cmp", op, left, self.value())
        raise ValueError(f"unknown operator {op!r}")

    @staticmethod
    def get(node, line):
        return node[1] if node[0] == "lit" else line.get(node[1])

    def eval(self, line: dict, node=None) -> bool:
        node = node or self.tree
        kind = node[0]
        if kind == "or":
            return self.eval(line, node[1]) or self.eval(line, node[2])
        if kind == "and":
            return self.eval(line, node[1]) and self.eval(line, node[2])
        if kind == "not":
            return not self.eval(line, node[1])
        if kind == "present":
            return node[1] in line
        if kind == "like":
            v = self.get(node[1], line)
            return isinstance(v, str) and bool(node[2].search(v))
        if kind == "in":
            v = self.get(node[1], line)
            return v is not None and any(compare("=", v, self.get(i, line)) for i in node[2])
        _, op, a, b = node
        va, vb = self.get(a, line), self.get(b, line)
        if va is None or vb is None:
            return False  # a missing field compares false, as in Logs Insights
        return compare(op, va, vb)


def compare(op: str, a, b) -> bool:
    if isinstance(b, float) and not isinstance(a, bool):
        try:
            a = float(a)
        except (TypeError, ValueError):
            return False
    elif isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, str):
        a = str(a)
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


class Query:
    def __init__(self, text: str):
        self.text = text
        self.commands = split_commands(text)
        self.names: set[str] = set()  # fields the query reads from log lines
        for cmd in self.commands:
            verb = cmd.split(None, 1)[0]
            if verb not in ("fields", "filter", "stats", "sort", "limit"):
                raise ValueError(f"unsupported command {verb!r}")

    def run(self, rows: list[dict]) -> list[dict]:
        produced: set[str] = set()
        for cmd in self.commands:
            verb, _, rest = cmd.partition(" ")
            rest = rest.strip()
            if verb == "fields":
                rows = [self.fields(r, rest, produced) for r in rows]
            elif verb == "filter":
                e = Expr(rest)
                self.names |= e.names - produced
                rows = [r for r in rows if e.eval(r)]
            elif verb == "stats":
                rows = self.stats(rows, rest, produced)
            elif verb == "sort":
                field, _, order = rest.partition(" ")
                self.note(field, produced)
                # Numbers as numbers (120 after 6, not before), the rest as text.
                def key(r, field=field):
                    v = r.get(field)
                    number = isinstance(v, (int, float)) and not isinstance(v, bool)
                    return (v is None, 0 if number else 1, v if number else 0, "" if number else str(v))
                rows = sorted(rows, key=key, reverse=order.strip() == "desc")
            elif verb == "limit":
                rows = rows[: int(rest)]
        return rows

    def note(self, name: str, produced: set[str]) -> None:
        if name not in produced:
            self.names.add(name)

    def fields(self, row: dict, spec: str, produced: set[str]) -> dict:
        row = dict(row)
        for item in split_top(spec):
            m = re.fullmatch(r"coalesce\((.+)\)\s+as\s+(\w+)", item)
            if m:
                args = [a.strip() for a in m.group(1).split(",")]
                for a in args:
                    self.note(a, produced)
                row[m.group(2)] = next((row[a] for a in args if row.get(a) is not None), None)
                produced.add(m.group(2))
            elif m := re.fullmatch(r"substr\((\w+),\s*(\d+),\s*(\d+)\)\s+as\s+(\w+)", item):
                self.note(m.group(1), produced)
                start, length = int(m.group(2)), int(m.group(3))
                value = row.get(m.group(1))
                row[m.group(4)] = None if value is None else str(value)[start:start + length]
                produced.add(m.group(4))
            elif re.fullmatch(r"[@\w]+", item):
                self.note(item, produced)
            else:
                raise ValueError(f"unsupported field {item!r}")
        return row

    def stats(self, rows: list[dict], spec: str, produced: set[str]) -> list[dict]:
        aggs_text, _, by = spec.partition(" by ")
        keys = [k.strip() for k in by.split(",")] if by else []
        for k in keys:
            self.note(k, produced)
        aggs = []
        for item in split_top(aggs_text):
            m = re.fullmatch(r"(\w+)\(([^)]*)\)(?:\s+as\s+(\w+))?", item)
            if not m or m.group(1) not in FUNCTIONS:
                raise ValueError(f"unsupported aggregate {item!r}")
            fn, arg, name = m.group(1), m.group(2).strip(), m.group(3) or item
            if arg != "*":
                self.note(arg, produced)
            aggs.append((fn, arg, name))
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
        out = []
        for key, members in groups.items():
            row = dict(zip(keys, key))
            by_time = sorted(members, key=lambda r: str(r.get("@timestamp")))
            for fn, arg, name in aggs:
                values = [m.get(arg) for m in by_time if arg == "*" or m.get(arg) is not None]
                row[name] = {
                    "count": lambda: len(values),
                    "sum": lambda: sum(float(v) for v in values),
                    "min": lambda: min(values),
                    "max": lambda: max(values),
                    "latest": lambda: values[-1] if values else None,
                    "earliest": lambda: values[0] if values else None,
                }[fn]()
            out.append(row)
        produced |= set(keys) | {a[2] for a in aggs}
        return out


def metric_filter(pattern: str) -> Expr:
    """A JSON metric filter pattern (`{ $.a = "x" && $.b >= 500 }`) as a filter expression;
    a `*` in a string value matches anything, as CloudWatch's wildcards do."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON pattern: {pattern!r}")
    body = body[1:-1].replace("$.", "").replace("&&", " and ").replace("||", " or ")

    def wildcard(m):
        field, value = m.group(1), m.group(2)
        rx = "^" + ".*".join(re.escape(p) for p in value.split("*")) + "$"
        return f"{field} like /{rx}/"

    body = re.sub(r'(\w+)\s*=\s*"([^"]*\*[^"]*)"', wildcard, body)
    return Expr(body)
