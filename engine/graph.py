"""The prerequisite graph's one algorithm: peeling it in topological order (Kahn).

The planner orders steps with it; the loader names cycles with what it cannot peel.
Graphs are ``node -> the nodes it requires``; ties break by node id, so every order
is deterministic.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def peel(requires: Mapping[str, Iterable[str]]) -> tuple[list[str], set[str]]:
    """(the nodes in topological order, prerequisites first and ties by id; the nodes
    left over because they sit on or behind a cycle). Requirements outside the graph
    are ignored."""
    known = {node: set(reqs) & requires.keys() for node, reqs in requires.items()}
    pending = {node: len(reqs) for node, reqs in known.items()}
    dependants: dict[str, list[str]] = defaultdict(list)
    for node, reqs in known.items():
        for required in reqs:
            dependants[required].append(node)
    ready = [node for node, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for dependant in dependants[node]:
            pending[dependant] -= 1
            if pending[dependant] == 0:
                heapq.heappush(ready, dependant)
    return order, {node for node, count in pending.items() if count > 0}


def find_cycles(requires: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Name one cycle per tangle (iterative, so long chains cannot overflow the stack).

    Nodes that survive peeling all have a surviving prerequisite, so walking from one
    along surviving edges must come back on itself: that loop is reported, starting
    and ending at its smallest node.
    """
    known = {node: [r for r in reqs if r in requires] for node, reqs in requires.items()}
    _, tangled = peel(known)
    cycles: list[list[str]] = []
    explained: set[str] = set()
    for start in sorted(tangled):
        if start in explained:
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        node = start
        while node not in position and node not in explained:
            position[node] = len(path)
            path.append(node)
            node = min(r for r in known[node] if r in tangled)
        explained.update(path)
        if node in position:
            loop = path[position[node] :]
            pivot = loop.index(min(loop))
            loop = loop[pivot:] + loop[:pivot]
            cycles.append([*loop, loop[0]])
    return cycles
