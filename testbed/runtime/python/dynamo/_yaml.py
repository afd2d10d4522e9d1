"""The YAML subset used by the `dynamo serve` configs (stdlib only: the testbed has no PyYAML).

Supported: nested block mappings by indentation, block lists ("- x", "- k: v"), flow lists
"[a, b]" and flow maps "{a: 1}" (one level, no nesting inside), quoted scalars ('..', ".."),
plain scalars (int, float, true/false, null/~), full-line and trailing "# comments".
Anything else raises YamlError with the line number, so an unsupported config fails loudly.
"""

from __future__ import annotations

import json
import re


class YamlError(ValueError):
    pass


def _strip_comment(line: str) -> str:
    out, q = [], None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


def scalar(s: str, lineno: int = 0):
    s = s.strip()
    if s == "":
        return None
    if s[0] == "'" and s.endswith("'") and len(s) >= 2:
        return s[1:-1].replace("''", "'")
    if s[0] == '"' and s.endswith('"') and len(s) >= 2:
        try:
            return json.loads(s)
        except ValueError:
            return s[1:-1]
    if s[0] == "[" and s.endswith("]"):
        inner = s[1:-1].strip()
        return [scalar(x, lineno) for x in _split_flow(inner)] if inner else []
    if s[0] == "{" and s.endswith("}"):
        inner = s[1:-1].strip()
        out = {}
        for part in _split_flow(inner) if inner else []:
            k, sep, v = part.partition(":")
            if not sep:
                raise YamlError(f"line {lineno}: bad flow mapping entry {part!r}")
            out[scalar(k, lineno)] = scalar(v, lineno)
        return out
    low = s.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~"):
        return None
    if re.fullmatch(r"[-+]?\d+", s):
        return int(s)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", s):
        return float(s)
    return s


def _split_flow(s: str):
    parts, depth, q, cur = [], 0, None, []
    for ch in s:
        if q:
            q = None if ch == q else q
        elif ch in "'\"":
            q = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def loads(text: str):
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(f"line {n}: tab in indentation")
        body = _strip_comment(raw)
        if body.strip() in ("", "---"):
            continue
        lines.append((len(body) - len(body.lstrip(" ")), body.strip(), n))
    if not lines:
        return {}
    value, pos = _block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise YamlError(f"line {lines[pos][2]}: unexpected indentation")
    return value


def _block(lines, pos, indent):
    if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
        return _list(lines, pos, indent)
    return _map(lines, pos, indent)


def _key_value(text, lineno):
    m = re.match(r"""^("[^"]*"|'[^']*'|[^:]+?)\s*:(\s+(.*))?$""", text)
    if not m:
        raise YamlError(f"line {lineno}: expected 'key: value', got {text!r}")
    return scalar(m.group(1), lineno), (m.group(3) or "")


def _map(lines, pos, indent):
    out = {}
    while pos < len(lines):
        ind, text, n = lines[pos]
        if ind < indent:
            break
        if ind > indent:
            raise YamlError(f"line {n}: unexpected indentation")
        if text.startswith("- "):
            raise YamlError(f"line {n}: list item inside a mapping")
        key, rest = _key_value(text, n)
        pos += 1
        if rest.strip() in ("|", ">", "|-", ">-"):
            raise YamlError(f"line {n}: block scalars are not supported")
        if rest.strip():
            out[key] = scalar(rest, n)
        elif pos < len(lines) and (lines[pos][0] > indent or
                                   (lines[pos][0] == indent and lines[pos][1].startswith("- "))):
            out[key], pos = _block(lines, pos, lines[pos][0])
        else:
            out[key] = None
    return out, pos


def _list(lines, pos, indent):
    out = []
    while pos < len(lines):
        ind, text, n = lines[pos]
        if ind < indent or not (text.startswith("- ") or text == "-"):
            break
        if ind > indent:
            raise YamlError(f"line {n}: unexpected indentation")
        item = text[1:].strip()
        pos += 1
        if not item:
            if pos < len(lines) and lines[pos][0] > indent:
                val, pos = _block(lines, pos, lines[pos][0])
                out.append(val)
            else:
                out.append(None)
        elif re.match(r"""^("[^"]*"|'[^']*'|[^:\[{'"]+?)\s*:(\s|$)""", item):
            # "- k: v" starts a mapping whose further keys are indented to the item's text
            sub = [(indent + 2, item, n)]
            while pos < len(lines) and lines[pos][0] > indent:
                sub.append(lines[pos])
                pos += 1
            val, _ = _map(sub, 0, indent + 2)
            out.append(val)
        else:
            out.append(scalar(item, n))
    return out, pos


def load(path: str):
    with open(path, encoding="utf-8") as f:
        return loads(f.read())
