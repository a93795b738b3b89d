"""`python -m festflow_devstack run|stop|status [--profile dev|test]`."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from festflow_devstack import status
from festflow_devstack.infra import stop_epmd
from festflow_devstack.profiles import Layout, get_profile
from festflow_devstack.stack import Stack, pid_path, recorded_layout, running_pid, write_own_pid
from festflow_devstack.supervisor import StackError, stop_recorded


def cmd_run(profile) -> int:
    try:
        layout = Layout.from_environment()
    except ValueError as exc:
        print(f"!! {exc}", file=sys.stderr)
        return 2
    stack = Stack(profile, layout=layout)
    stopping = False

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    other = running_pid(profile)
    if other is not None:  # two watchdogs would restart what the other stops
        print(f"FestFlow ({profile.name}) is already running (pid {other}); `make stop` ends it", file=sys.stderr)
        return 1
    # set both explicitly: a process started in the background may inherit SIGINT as ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_own_pid(profile)
    try:
        stack.start()
    except (StackError, OSError, RuntimeError, KeyError) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\n==> interrupted while starting; stopped what had started")
        return 130
    print("\n==> FestFlow is up")
    for label, url in stack.urls().items():
        print(f"    {label:<36} {url}")
    print("    demo accounts: admin/admin123 (admin), guest/festflow (client)")
    print("==> Ctrl-C or `make stop` ends it\n", flush=True)
    stack.supervisor.watch()  # a part that exits is reported and started again
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        stopping = True
    finally:
        # a second Ctrl-C (or the signal uv forwards) must not cut the shutdown short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\n==> stopping FestFlow", flush=True)
        stack.stop()
        pid_path(profile).unlink(missing_ok=True)
        print("==> stopped", flush=True)
    return 0 if stopping else 1


def cmd_stop(profile) -> int:
    pidfile = pid_path(profile)
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.2)
        except (ProcessLookupError, ValueError):
            pass
        pidfile.unlink(missing_ok=True)
    stopped = stop_recorded(profile.run_dir)
    stop_epmd()
    if stopped:
        print(f"stopped leftover processes: {', '.join(stopped)}")
    print("FestFlow stopped")
    return 0


def cmd_status(profile) -> int:
    """Each part of the stack last started for this profile (each node of a cluster, with its role)."""
    layout = recorded_layout(profile)
    rows = status.rows(profile, layout)
    for name, state in rows:
        print(f"{name:<22} {state}")
    return 0 if all(status.healthy(state) for _, state in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="festflow_devstack")
    parser.add_argument("command", choices=["run", "stop", "status"])
    parser.add_argument("--profile", default=None, help="dev (default), test, bench, scale or cluster")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    return {"run": cmd_run, "stop": cmd_stop, "status": cmd_status}[args.command](profile)
