"""Strongly connected components of a directed graph (Tarjan's algorithm,
iterative, so a long chain cannot reach Python's recursion limit): what
scripts/structure.py (module imports) and scripts/cfn_graph.py
(CloudFormation's dependencies) each find their cycles with."""
from __future__ import annotations

from typing import Iterable, Mapping


def strongly_connected(edges: Mapping[str, Iterable[str]], nodes: Iterable[str]) -> list[set[str]]:
    """Every component of the graph reachable from `nodes`; a node alone is
    its own component (whether it points at itself is the caller's to ask)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def enter(node: str, work: list) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(edges.get(node, ()))))

    for start in nodes:
        if start in index:
            continue
        work: list = []
        enter(start, work)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c not in index or c in on_stack), None)
            if child is not None:
                if child in index:
                    low[node] = min(low[node], index[child])
                else:
                    enter(child, work)
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found
