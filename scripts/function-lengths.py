#!/usr/bin/python3
"""Lists the C++ functions longer than a limit, longest first.

  function-lengths.py [--max N] FOLDER_OR_FILE...   # default 80 lines; exit 1 when any is longer

A function is a brace block opened at namespace or class level after a parameter list (member
functions, free functions, constructors, operators); lambdas and local classes count towards the
function around them. Lines are counted from the line of the name to the closing brace. Comments,
strings and character literals are blanked first, so braces inside them do not count. A heuristic
for kelvin's own style, not a C++ parser: it is what tests/test_layers.cpp-style checks need, a
number per function that a reviewer can trust to within a line or two.
"""
import os
import re
import sys

SOURCE = (".cpp", ".h", ".cu", ".cuh")
NOT_FUNCTIONS = re.compile(r"^\s*(?:template\s*<[^{]*>\s*)?(namespace|class|struct|union|enum)\b")
CONTROL = re.compile(r"^\s*(if|for|while|switch|catch|do|else|try)\b")


def blank_literals(text):
    """The text with comments, strings and character literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (min(j + 1, n) - i))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, line count) of every function defined in the file."""
    text = blank_literals(open(path, encoding="utf-8", errors="replace").read())
    found = []
    # A stack of open blocks: "function" or "scope" (namespace, class, extern, initializer).
    stack = []
    header_start = 0  # where the text before the next '{' begins
    line = 1
    starts = {}
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c in ";}" and (not stack or stack[-1][0] == "scope"):
            if c == "}" and stack:
                stack.pop()
            header_start = i + 1
        elif c == "}":
            kind, name, first = stack.pop()
            if kind == "function" and not any(k == "function" for k, _, _ in stack):
                found.append((name, first, line - first + 1))
            header_start = i + 1
        elif c == "{":
            inside_function = any(k == "function" for k, _, _ in stack)
            header = text[header_start:i]
            flat = " ".join(header.split())
            is_function = (not inside_function and ")" in flat and not NOT_FUNCTIONS.match(flat)
                           and not CONTROL.match(flat) and not flat.rstrip().endswith("="))
            if is_function:
                name_match = re.search(r"([~\w:]+(?:operator\s*\S+)?)\s*\(", flat)
                name = name_match.group(1) if name_match else flat[:40]
                offset = len(header) - len(header.lstrip())
                first = text.count("\n", 0, header_start + offset) + 1
                stack.append(("function", name, first))
            else:
                stack.append(("scope" if not inside_function else "block", "", line))
            header_start = i + 1
    return found


def main(argv):
    limit = 80
    if len(argv) >= 2 and argv[0] == "--max":
        limit, argv = int(argv[1]), argv[2:]
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = []
    for folder in argv:
        walk = [(os.path.dirname(folder), [], [os.path.basename(folder)])] if os.path.isfile(folder) else os.walk(folder)
        for root, _, files in walk:
            for f in sorted(files):
                if f.endswith(SOURCE):
                    path = os.path.join(root, f)
                    rows += [(n, path, name, first) for name, first, n in functions(path)]
    rows.sort(reverse=True)
    longer = [r for r in rows if r[0] > limit]
    for n, path, name, first in longer:
        print(f"{n:5d} lines  {path}:{first}  {name}")
    print(f"{len(rows)} functions in {', '.join(argv)}; {len(longer)} over {limit} lines"
          + (f"; the longest {rows[0][0]} ({rows[0][2]})" if rows else ""))
    return 1 if longer else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
