#!/usr/bin/env python3
"""Checks the shape of src/ (issue 17): the import graph between its files has no circle,
the pure modules import no pgrx, and lower layers import nothing from higher ones.

Edges are read from `crate::...` and `super::...` paths in each file, test code left out
(files under src/tests/, *_tests.rs, and `#[cfg(test)] mod tests` blocks). Prints the graph
with --graph. Exit status 1 on any violation."""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
# Modules that must build without PostgreSQL: `cargo test` covers them in seconds.
PURE = ["decimal", "text", "models::page", "models::map", "models::labs", "models::prices",
        "models::diff", "endpoints::map", "pg::jsonb", "pg::lz4"]
# Layers, top to bottom: a module may import its own layer or lower ones only.
LAYERS = [["api"], ["models::sync", "endpoints::sync"], ["models::store", "endpoints::store"],
          ["pg::spi", "pg::arrays", "pg::memory", "pg::progress"]]


def module_of(path):
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return "::".join(parts)


def code_without_tests(text):
    m = re.search(r"#\[cfg\(test\)\]\s*(#\[path[^\]]*\]\s*)?mod tests\b", text)
    text = text[: m.start()] if m else text
    # comments and strings say nothing about imports
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'r#"(?:.|\n)*?"#|"(?:\\.|[^"\\])*"', '""', text)


files = {}
for path in sorted(SRC.rglob("*.rs")):
    mod = module_of(path)
    if mod.startswith("tests") or mod.endswith("_tests"):
        continue
    files[mod] = path
modules = set(files)


def resolve(mod, path_text, is_dir_module):
    parts = path_text.split("::")
    base = mod.split("::") if mod else []
    if parts[0] == "crate":
        target, parts = [], parts[1:]
    else:
        # `super` from a file module is its parent; from a mod.rs, the parent of the folder.
        target = base[:] if is_dir_module else base[:]
        while parts and parts[0] == "super":
            target = target[:-1]
            parts = parts[1:]
    best = None
    for i in range(len(parts) + 1):
        cand = "::".join(target + parts[:i])
        if cand in modules:
            best = cand
    return best


graph = {m: set() for m in files}
problems = []
for mod, path in files.items():
    code = code_without_tests(path.read_text())
    is_dir = path.name == "mod.rs"
    # `use a::{b, c::d}` groups are expanded to their paths before resolving
    for group in re.finditer(r"\b((?:crate|super)(?:::\w+)*)::\{([^}]*)\}", code):
        for item in group.group(2).split(","):
            item = item.strip().split(" as ")[0]
            if item and item != "self":
                code += f"\n{group.group(1)}::{item};"
            elif item == "self":
                code += f"\n{group.group(1)};"
    for ref in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", code):
        target = resolve(mod, ref.group(1), is_dir)
        if target and target != mod and not mod.startswith(target + "::") and target != "":
            graph[mod].add(target)
    if mod in PURE and re.search(r"\bpgrx\b", code):
        problems.append(f"{mod} is meant to be pure but uses pgrx")

# circles (modules re-exporting their children are not edges back up)
for m in graph:
    graph[m] = {t for t in graph[m] if not (m.startswith(t + "::") or t == "")}
state, stack = {}, []


def visit(m):
    state[m] = 1
    stack.append(m)
    for t in sorted(graph[m]):
        if state.get(t) == 1:
            problems.append("import circle: " + " -> ".join(stack[stack.index(t):] + [t]))
        elif t not in state:
            visit(t)
    stack.pop()
    state[m] = 2


for m in sorted(graph):
    if m not in state:
        visit(m)

layer = {m: i for i, ms in enumerate(LAYERS) for m in ms}
for m, ts in graph.items():
    for t in ts:
        if m in layer and t in layer and layer[t] < layer[m]:
            problems.append(f"{m} (lower) imports {t} (higher)")
    if m in PURE:
        for t in ts:
            if t not in PURE and t not in ("models", "endpoints", "pg"):
                problems.append(f"{m} is pure but imports {t}")

if "--graph" in sys.argv:
    for m in sorted(graph):
        print(f"{m or 'lib'} -> {', '.join(sorted(graph[m])) or '-'}")
for p in problems:
    print(p, file=sys.stderr)
print(f"layout: {len(graph)} modules, {sum(map(len, graph.values()))} imports, "
      f"{len(problems)} problems")
sys.exit(1 if problems else 0)
