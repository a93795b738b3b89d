"""CPU time and memory of each part of the stack, with everything it runs under it.

A part is the process the runner started plus all its descendants: RabbitMQ's Erlang VM (beam.smp)
runs under its start script, Nginx's workers under the master, PostgreSQL's backends under the
postmaster. CPU counts the live processes of the tree and the children they have reaped already.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    rss_kib: int
    processes: int


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat(int(name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def tree(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    children = _children_by_parent() if children is None else children
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def usage(roots: dict[str, int]) -> dict[str, Usage]:
    """Each named root's tree: CPU seconds (user + system, reaped children included), resident memory."""
    children = _children_by_parent()
    result = {}
    for name, root in roots.items():
        cpu, rss, count = 0.0, 0, 0
        for pid in tree(root, children):
            fields = _stat(pid)
            if fields is None:
                continue
            # utime, stime, cutime, cstime; rss in pages
            cpu += sum(int(f) for f in fields[11:15]) / TICK
            rss += int(fields[21]) * PAGE_KIB
            count += 1
        result[name] = Usage(cpu, rss, count)
    return result


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
