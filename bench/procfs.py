"""What /proc says about a process tree: its members and the memory they hold.

A server is several processes (the server, the fork server, the engine workers, and
with ``--workers N`` one server per worker); the benchmark and the soak test both
measure the whole tree.
"""

from __future__ import annotations

from pathlib import Path


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (processes that exit meanwhile are skipped)."""
    members, queue = [], [pid]
    while queue:
        current = queue.pop()
        members.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue += [int(child) for child in children.read_text().split()]
            except OSError:
                continue
    return members


def field(pid: int, name: str, source: str = "status") -> int:
    """The number on the ``NAME: <n> [kB]`` line of /proc/PID/<source> (``status``,
    ``smaps_rollup``): memory in KiB, or a count such as ``Threads``."""
    text = Path(f"/proc/{pid}/{source}").read_text()
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith(f"{name}:"))


def tree_kib(pid: int, name: str, source: str = "status") -> int:
    """The sum of one field over the tree: ``VmRSS`` (shared pages counted in every
    process) or, from ``smaps_rollup``, ``Pss`` (shared pages split between sharers)."""
    total = 0
    for member in tree(pid):
        try:
            total += field(member, name, source)
        except (OSError, StopIteration):  # it exited while being read
            continue
    return total
