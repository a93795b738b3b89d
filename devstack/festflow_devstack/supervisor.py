"""Starts components in stages, waits until each is healthy, and stops them all again.

Each component runs in its own process group with its output in `<run_dir>/logs/<name>.log`;
its process-group id is recorded in `<run_dir>/pids/<name>.pid` so that `stop` can end a stack
started by another process.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from festflow_devstack.profiles import REPO_ROOT


class StackError(RuntimeError):
    """A component did not come up; the message names it and its log."""


@dataclass
class Component:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT
    timeout: float = 90.0
    prepare: Callable[[], None] | None = None
    after_stop: Callable[[], None] | None = None
    process: subprocess.Popen | None = None
    log_path: Path | None = None


def _say(msg: str) -> None:
    print(msg, flush=True)


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Supervisor:
    def __init__(self, run_dir: Path, quiet: bool = False):
        self.run_dir = run_dir
        self.logs_dir = run_dir / "logs"
        self.pids_dir = run_dir / "pids"
        self.started: list[Component] = []
        self.quiet = quiet

    def _print(self, msg: str) -> None:
        if not self.quiet:
            _say(msg)

    def start_stage(self, stage: str, components: list[Component]) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.pids_dir.mkdir(parents=True, exist_ok=True)
        self._print(f"==> starting {stage}: {', '.join(c.name for c in components)}")
        for comp in components:
            if comp.prepare:
                comp.prepare()
            comp.log_path = self.logs_dir / f"{comp.name}.log"
            log = open(comp.log_path, "ab")
            env = {**os.environ, **comp.env}
            comp.process = subprocess.Popen(
                comp.argv, cwd=comp.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
            log.close()
            (self.pids_dir / f"{comp.name}.pid").write_text(str(comp.process.pid))
            self.started.append(comp)
        self._wait_ready(components)

    def _wait_ready(self, components: list[Component]) -> None:
        t0 = time.monotonic()
        waiting = list(components)
        last_report = 0.0
        while waiting:
            for comp in list(waiting):
                code = comp.process.poll()
                if code is not None:
                    raise StackError(
                        f"{comp.name} exited with code {code} while starting; log: {comp.log_path}\n"
                        f"{log_tail(comp.log_path)}"
                    )
                try:
                    ok = comp.ready()
                except Exception:  # a probe that errors means "not ready yet"
                    ok = False
                if ok:
                    waiting.remove(comp)
                    self._print(f"    up      {comp.name:<18} ({time.monotonic() - t0:.1f}s)")
                elif time.monotonic() - t0 > comp.timeout:
                    raise StackError(
                        f"{comp.name} did not become healthy within {comp.timeout:.0f}s; "
                        f"log: {comp.log_path}\n{log_tail(comp.log_path)}"
                    )
            now = time.monotonic()
            if waiting and now - last_report > 3:
                self._print(f"    waiting {', '.join(c.name for c in waiting)} ({now - t0:.0f}s)")
                last_report = now
            if waiting:
                time.sleep(0.25)

    def component(self, name: str) -> Component:
        return next(c for c in self.started if c.name == name)

    def stop_one(self, name: str) -> None:
        """Stops one component (its whole process group), e.g. to test how the others cope."""
        comp = self.component(name)
        if comp.process and comp.process.poll() is None:
            _signal_group(comp.process.pid, signal.SIGTERM)
            try:
                comp.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(comp.process.pid, signal.SIGKILL)
            comp.process.wait()
        if comp.after_stop:
            comp.after_stop()

    def restart(self, name: str) -> None:
        comp = self.component(name)
        self.stop_one(name)
        self.started.remove(comp)
        self.start_stage(f"{name} again", [comp])

    def check_alive(self) -> Component | None:
        for comp in self.started:
            if comp.process and comp.process.poll() is not None:
                return comp
        return None

    def stop_all(self) -> None:
        for comp in reversed(self.started):
            if comp.process and comp.process.poll() is None:
                _signal_group(comp.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for comp in reversed(self.started):
            if not comp.process:
                continue
            try:
                comp.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # whatever is left in the group (children included) is killed
            _signal_group(comp.process.pid, signal.SIGKILL)
            (self.pids_dir / f"{comp.name}.pid").unlink(missing_ok=True)
            if comp.after_stop:
                comp.after_stop()
        self.started.clear()


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop_recorded(run_dir: Path) -> list[str]:
    """Ends every process group recorded under run_dir/pids (a stack started elsewhere)."""
    pids_dir = run_dir / "pids"
    stopped = []
    if not pids_dir.is_dir():
        return stopped
    pidfiles = sorted(pids_dir.glob("*.pid"))
    for pidfile in pidfiles:
        try:
            pgid = int(pidfile.read_text().strip())
        except ValueError:
            continue
        if _signal_group(pgid, signal.SIGTERM):
            stopped.append(pidfile.stem)
    deadline = time.monotonic() + 20
    for pidfile in pidfiles:
        try:
            pgid = int(pidfile.read_text().strip())
        except (ValueError, OSError):
            continue
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.2)
        _signal_group(pgid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
    return stopped


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
