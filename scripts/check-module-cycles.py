#!/usr/bin/env python3
"""Fails when the CLI's top-level modules import each other in a cycle.

The rule (README "Layout"): commands → target → edges, everything may use the manifest crate,
render and report are leaves for the commands. A module's dependencies are the `crate::<module>`
paths in its files (and `super::` from a submodule counts as its own module).
"""
import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "crates/dbrelease/src"
modules = {}
for path in src.rglob("*.rs"):
    rel = path.relative_to(src)
    top = rel.parts[0].removesuffix(".rs")
    if top in ("lib", "main"):
        continue
    text = path.read_text()
    text = text.split("#[cfg(test)]")[0]
    deps = set(re.findall(r"crate::([a-z_]+)", text))
    modules.setdefault(top, set()).update(d for d in deps if d != top)

def cycle_from(start):
    stack = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for nxt in sorted(modules.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in path:
                stack.append((nxt, path + [nxt]))
    return None

cycles = {tuple(c) for m in modules if (c := cycle_from(m))}
for name in sorted(modules):
    print(f"{name:10} -> {', '.join(sorted(modules[name])) or '-'}")
if cycles:
    for c in sorted(cycles):
        print("cycle:", " -> ".join(c), file=sys.stderr)
    sys.exit(1)
print("no cycles between the CLI's modules")
