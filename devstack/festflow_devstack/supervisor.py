"""Starts components in stages, waits until each is healthy, restarts a part that exits, and stops
them all again.

Each component runs in its own process group with its output in `<run_dir>/logs/<name>.log`; its
process-group id and start time are recorded in `<run_dir>/pids/<name>.pid` so that `stop` can end a
stack started by another process, and only that: a recorded id whose process now has another start
time belongs to someone else (the id was reused) and is left alone.

Healing (`watch()`): a part that exits is started again after a backoff (1 s, doubling up to 30 s),
at most RESTART_LIMIT times within RESTART_WINDOW seconds; every exit and restart is reported.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
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
    held: bool = False  # stopped on purpose (stop_one): not to be healed
    restarts: list[float] = field(default_factory=list)  # when it was restarted by the watchdog
    restart_at: float | None = None
    awaiting_ready: bool = False
    nice: int = 0  # > 0: runs at a lower CPU priority (see lower_priority)
    idle: bool = False  # runs on CPU time no other part wants (see run_when_idle)


def _say(msg: str) -> None:
    print(msg, flush=True)


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def lower_priority(pid: int, nice: int) -> None:
    """Lowers a just-started component's CPU priority to `nice`, for its own threads and for its session.

    A process's nice value ranks it only against processes of its own scheduling group. Linux puts every
    session in a group of its own (autogroup, on by default), and each component starts a session of its
    own, so nice alone did nothing: the niced email function still took half a core in a drop, as much as
    the order service. The group's own nice (/proc/<pid>/autogroup) is what ranks it against the others."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        if autogroup.exists():
            autogroup.write_text(str(nice))
    except OSError as exc:  # it exited already, or this system does not allow it: it runs as it is
        _say(f"    (could not lower the priority of process {pid}: {exc})")


def run_when_idle(pid: int) -> None:
    """Puts a just-started component under SCHED_IDLE, it and the threads it starts later (they inherit it).

    Nice 19 makes a part's share of a busy core small, but a core running it still counts as busy: a part
    of the sale that wakes (a checkout arriving) may then queue on a core behind the other parts of the
    sale while the other core renders a mail. A core running only SCHED_IDLE tasks counts as free for a
    waking task, which takes it at once. Alternated 1,000/s drops (docs/benchmarks.md): the 202's p99 was
    lower with it in 6 pairs of 7 (median 0.74 s against 0.99 s; the machine was slow)."""
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:  # it exited already, or this system does not allow it: it runs as it is
        _say(f"    (could not make process {pid} run only when a core is idle: {exc})")


RESTART_LIMIT = 5
RESTART_WINDOW = 300.0
BACKOFF_START, BACKOFF_MAX = 1.0, 30.0


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Supervisor:
    def __init__(self, run_dir: Path, quiet: bool = False, say: Callable[[str], None] | None = None):
        self.run_dir = run_dir
        self.logs_dir = run_dir / "logs"
        self.pids_dir = run_dir / "pids"
        self.started: list[Component] = []
        self.quiet = quiet
        self.say = say or _say  # what the watchdog reports goes here (printed even when quiet)
        self._lock = threading.RLock()
        self._watching: threading.Event | None = None

    def _print(self, msg: str) -> None:
        if not self.quiet:
            _say(msg)

    def start_stage(self, stage: str, components: list[Component]) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.pids_dir.mkdir(parents=True, exist_ok=True)
        self._print(f"==> starting {stage}: {', '.join(c.name for c in components)}")
        with self._lock:
            for comp in components:
                if comp.prepare:
                    comp.prepare()
                self._spawn(comp)
                comp.held = False
                self.started.append(comp)
        self._wait_ready(components)

    def _spawn(self, comp: Component) -> None:
        comp.log_path = self.logs_dir / f"{comp.name}.log"
        log = open(comp.log_path, "ab")
        env = {**os.environ, **comp.env}
        comp.process = subprocess.Popen(
            comp.argv, cwd=comp.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        pid = comp.process.pid
        if comp.nice:
            lower_priority(pid, comp.nice)
        if comp.idle:
            run_when_idle(pid)
        (self.pids_dir / f"{comp.name}.pid").write_text(f"{pid} {start_time(pid) or ''}".strip())

    def _wait_ready(self, components: list[Component]) -> None:
        t0 = time.monotonic()
        waiting = list(components)
        last_report = 0.0
        while waiting:
            for comp in list(waiting):
                assert comp.process is not None and comp.log_path is not None, f"{comp.name} was never started"
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
        """Stops one component (its whole process group), e.g. to test how the others cope. It stays
        stopped (the watchdog leaves it alone) until `restart`."""
        comp = self.component(name)
        with self._lock:
            comp.held = True
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
        with self._lock:
            self.started.remove(comp)
        self.start_stage(f"{name} again", [comp])

    def kill(self, name: str) -> None:
        """kill -9 of one component's whole group, as a crash would: the watchdog brings it back."""
        process = self.component(name).process
        assert process is not None, f"{name} was never started"
        _signal_group(process.pid, signal.SIGKILL)

    # --- healing ---
    def watch(self, interval: float = 0.5) -> None:
        """Starts the watchdog thread that restarts parts that exit (until stop_all)."""
        if self._watching is not None:
            return
        self._watching = threading.Event()
        threading.Thread(target=self._watch, args=(self._watching, interval), name="festflow-watchdog",
                         daemon=True).start()

    def _watch(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            self.heal_once()

    def heal_once(self, now: float | None = None) -> None:
        """One look at every part: report exits, restart what is due, report what is up again."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for comp in list(self.started):
                if comp.held or comp.process is None:
                    continue
                if comp.process.poll() is None:
                    if comp.awaiting_ready and _probe(comp):
                        comp.awaiting_ready = False
                        self.say(f"    up again {comp.name}")
                    continue
                if comp.restart_at is None:
                    comp.restarts = [t for t in comp.restarts if now - t < RESTART_WINDOW]
                    code = comp.process.returncode
                    if len(comp.restarts) >= RESTART_LIMIT:
                        comp.held = True
                        self.say(f"!! {comp.name} exited (code {code}) again: {RESTART_LIMIT} restarts within "
                                 f"{RESTART_WINDOW:.0f} s, so it stays down; log: {comp.log_path}")
                        continue
                    delay = min(BACKOFF_START * 2 ** len(comp.restarts), BACKOFF_MAX)
                    comp.restart_at = now + delay
                    self.say(f"!! {comp.name} exited (code {code}); restarting in {delay:.0f} s "
                             f"(restart {len(comp.restarts) + 1} of at most {RESTART_LIMIT}); log: {comp.log_path}")
                elif now >= comp.restart_at:
                    comp.restart_at = None
                    comp.restarts.append(now)
                    self._spawn(comp)
                    comp.awaiting_ready = True
                    self.say(f"    restarted {comp.name} (pid {comp.process.pid})")

    def check_alive(self) -> Component | None:
        for comp in self.started:
            if comp.process and comp.process.poll() is not None:
                return comp
        return None

    def stop_all(self) -> None:
        if self._watching is not None:
            self._watching.set()
            self._watching = None
        with self._lock:
            for comp in self.started:
                comp.held = True
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


def _probe(comp: Component) -> bool:
    try:
        return bool(comp.ready())
    except Exception:
        return False


def read_pidfile(pidfile: Path) -> int | None:
    """The recorded process group, if it is still ours: its leader is gone (what is left of the group
    can only be ours, a group id is not reused while it has members) or has the recorded start time."""
    try:
        pgid_text, _, started = pidfile.read_text().strip().partition(" ")
        pgid = int(pgid_text)
    except (OSError, ValueError):
        return None
    now_started = start_time(pgid)
    if now_started is not None and started and now_started != started:
        return None  # the id now belongs to another process
    return pgid


def stop_recorded(run_dir: Path) -> list[str]:
    """Ends every process group recorded under run_dir/pids (a stack started elsewhere)."""
    pids_dir = run_dir / "pids"
    stopped: list[str] = []
    if not pids_dir.is_dir():
        return stopped
    groups: dict[Path, int] = {}
    for pidfile in sorted(pids_dir.glob("*.pid")):
        pgid = read_pidfile(pidfile)
        if pgid is None:
            pidfile.unlink(missing_ok=True)
            continue
        groups[pidfile] = pgid
        if _signal_group(pgid, signal.SIGTERM):
            stopped.append(pidfile.stem)
    deadline = time.monotonic() + 20
    for pidfile, pgid in groups.items():
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
