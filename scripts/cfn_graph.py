#!/usr/bin/env python3
"""The dependency graph CloudFormation builds from a template, and its cycles.

CloudFormation orders resources by every reference a resource makes, wherever
it makes it: Ref, Fn::GetAtt and the names inside Fn::Sub, in Properties and
equally in UpdatePolicy, CreationPolicy and Metadata, plus DependsOn. A cycle
anywhere among them and it refuses the whole template ("Circular dependency
between resources") before it creates anything. Conditions are not applied:
a reference in either branch of an Fn::If counts, so a cycle that only some
parameter values would close is reported too.

    cfn_graph.py TEMPLATE.json      exit 1 and print each cycle, with the
                                    place in the template of every edge

Run it on what CloudFormation receives (SAM's translation, scripts/translate.py),
not on template.yaml: the resources SAM generates (alias, versions, deployment
group, permissions) are where such cycles hide.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from graphs import strongly_connected

# The parts of a resource CloudFormation reads references from.
SECTIONS = ("Properties", "UpdatePolicy", "CreationPolicy", "Metadata")
SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z0-9.]+)?\}")


def _refs(node, path: str, found: list[tuple[str, str]]) -> None:
    """Every (logical id or parameter, where) that `node` refers to."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "Ref" and isinstance(value, str):
                found.append((value, here))
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                if isinstance(target, str):
                    found.append((target, here))
            elif key == "Fn::Sub":
                text, names = (value, {}) if isinstance(value, str) else (value[0], value[1])
                local = set(names) if isinstance(names, dict) else set()
                for name in SUB_NAME.findall(text if isinstance(text, str) else ""):
                    if name not in local:
                        found.append((name, here))
                _refs(names, here, found)
            else:
                _refs(value, here, found)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refs(item, f"{path}[{i}]", found)


def edges(template: dict) -> dict[str, list[tuple[str, str]]]:
    """resource -> [(resource it depends on, where the reference is)]."""
    resources = template.get("Resources", {})
    graph: dict[str, list[tuple[str, str]]] = {}
    for name, res in resources.items():
        out: list[tuple[str, str]] = []
        for section in SECTIONS:
            if section in res:
                _refs(res[section], section, out)
        depends = res.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            out.append((target, "DependsOn"))
        graph[name] = [(t, where) for t, where in out if t in resources]
    return graph


def cycles(graph: dict[str, list[tuple[str, str]]]) -> list[list[tuple[str, str, str]]]:
    """One cycle per strongly connected component that has one, as
    (from, to, where) steps: a walk inside the component back to where it
    started."""
    targets = {node: [t for t, _ in out] for node, out in graph.items()}
    found = []
    for component in strongly_connected(targets, sorted(graph)):
        start = min(component)
        if len(component) == 1 and start not in targets[start]:
            continue
        found.append(_walk(graph, component, start))
    return found


def _walk(graph, component: set[str], start: str) -> list[tuple[str, str, str]]:
    """A shortest path inside `component` from `start` back to itself
    (breadth first; a component with a cycle always has one)."""
    previous: dict[str, tuple[str, str]] = {}
    frontier = [start]
    while start not in previous:
        following = []
        for node in frontier:
            for child, where in graph[node]:
                if child in component and child not in previous:
                    previous[child] = (node, where)
                    following.append(child)
        frontier = following
    steps = []
    node = start
    while True:
        parent, where = previous[node]
        steps.append((parent, node, where))
        node = parent
        if node == start:
            return list(reversed(steps))


def describe(cycle: list[tuple[str, str, str]]) -> str:
    lines = [f"  {a} -> {b}   ({a}.{where})" for a, b, where in cycle]
    return "a dependency cycle CloudFormation refuses:\n" + "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    template = json.loads(Path(argv[0]).read_text())
    found = cycles(edges(template))
    for cycle in found:
        print(describe(cycle))
    if found:
        return 1
    print(f"no dependency cycle among {len(template.get('Resources', {}))} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
