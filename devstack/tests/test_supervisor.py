"""The stack runner's promises: it names the part that failed and its log, and leaves nothing running."""
import os
import sys
import time
from pathlib import Path

import pytest

from festflow_devstack.supervisor import Component, StackError, Supervisor, stop_recorded


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped by whoever inherited it."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_part_that_exits_is_named_with_its_log(tmp_path):
    supervisor = Supervisor(tmp_path, quiet=True)
    crash = Component("broken-part", _python("import sys; print('cannot bind port'); sys.exit(3)"), lambda: False)
    with pytest.raises(StackError) as failed:
        supervisor.start_stage("test", [crash])
    message = str(failed.value)
    assert "broken-part exited with code 3" in message
    assert str(tmp_path / "logs" / "broken-part.log") in message and "cannot bind port" in message


def test_a_part_that_never_gets_healthy_times_out_with_its_log(tmp_path):
    supervisor = Supervisor(tmp_path, quiet=True)
    slow = Component("slow-part", _python("import time; print('still warming up'); time.sleep(30)"), lambda: False,
                     timeout=0.5)
    try:
        with pytest.raises(StackError, match=r"slow-part did not become healthy within 0s; log: .*slow-part.log"):
            supervisor.start_stage("test", [slow])
    finally:
        supervisor.stop_all()
    assert slow.process.poll() is not None


def test_stop_ends_whole_process_groups_and_forgets_them(tmp_path):
    supervisor = Supervisor(tmp_path, quiet=True)
    marker = tmp_path / "child.pid"
    # a parent that starts a child of its own: both must go
    code = ("import subprocess, sys, time; "
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(marker)!r}, 'w').write(str(c.pid)); time.sleep(60)")
    part = Component("parent", _python(code), lambda: marker.exists())
    supervisor.start_stage("test", [part])
    child = int(marker.read_text())
    supervisor.stop_all()
    deadline = time.monotonic() + 5  # a SIGKILLed process is gone a moment after the signal, not at once
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)
    assert not (tmp_path / "pids" / "parent.pid").exists()


def test_stop_recorded_ends_a_stack_started_by_another_process(tmp_path):
    supervisor = Supervisor(tmp_path, quiet=True)
    part = Component("orphan", _python("import time; time.sleep(60)"), lambda: True)
    supervisor.start_stage("test", [part])
    assert stop_recorded(tmp_path) == ["orphan"]
    part.process.wait(timeout=5)
    assert part.process.returncode is not None


def test_a_part_that_exits_is_reported_and_restarted_with_backoff_up_to_a_limit(tmp_path, monkeypatch):
    from festflow_devstack import supervisor as sup
    said = []
    supervisor = Supervisor(tmp_path, quiet=True, say=said.append)
    part = Component("flaky-part", _python("import time; time.sleep(60)"), lambda: True)
    supervisor.start_stage("test", [part])
    try:
        now = 1000.0
        for restart in range(1, sup.RESTART_LIMIT + 1):
            old = part.process.pid
            supervisor.kill("flaky-part")
            part.process.wait()
            supervisor.heal_once(now)
            assert f"restarting in {min(2 ** (restart - 1), 30)} s (restart {restart} of at most 5)" in said[-1]
            supervisor.heal_once(now + 0.1)  # not due yet
            assert part.process.pid == old
            now += 32
            supervisor.heal_once(now)
            assert part.process.pid != old and "restarted flaky-part" in said[-1]
            supervisor.heal_once(now)
            assert said[-1] == "    up again flaky-part"
        supervisor.kill("flaky-part")
        part.process.wait()
        supervisor.heal_once(now)
        assert "5 restarts within 300 s, so it stays down" in said[-1]
        supervisor.heal_once(now + 100)
        assert part.process.poll() is not None  # left down
    finally:
        supervisor.stop_all()


def test_a_part_stopped_on_purpose_is_not_healed(tmp_path):
    said = []
    supervisor = Supervisor(tmp_path, quiet=True, say=said.append)
    part = Component("held-part", _python("import time; time.sleep(60)"), lambda: True)
    supervisor.start_stage("test", [part])
    supervisor.stop_one("held-part")
    supervisor.heal_once()
    assert said == [] and part.process.poll() is not None
    supervisor.stop_all()


def test_a_recorded_pid_that_now_belongs_to_another_process_is_left_alone(tmp_path):
    import subprocess
    # a process of someone else's (its own session and group), recorded under a start time not its own,
    # as a pid file left from before a reboot would be once the id is reused
    other = subprocess.Popen(_python("import time; time.sleep(60)"), start_new_session=True)
    try:
        pids = tmp_path / "pids"
        pids.mkdir()
        (pids / "imposter.pid").write_text(f"{other.pid} 1")
        assert stop_recorded(tmp_path) == []
        assert _running(other.pid)
    finally:
        other.kill()
        other.wait()


def test_a_part_started_at_a_lower_priority_is_lowered_against_the_other_parts_too(tmp_path):
    """Each part is a session of its own, and Linux ranks sessions against each other (autogroup) before
    it looks at a process's own nice value: the part's session must be lowered as well."""
    supervisor = Supervisor(tmp_path, quiet=True)
    mail = Component("mail", _python("import time; time.sleep(60)"), lambda: True, nice=19)
    plain = Component("plain", _python("import time; time.sleep(60)"), lambda: True)
    supervisor.start_stage("test", [mail, plain])
    try:
        assert os.getpriority(os.PRIO_PROCESS, mail.process.pid) == 19
        assert os.getpriority(os.PRIO_PROCESS, plain.process.pid) == 0
        autogroup = Path(f"/proc/{mail.process.pid}/autogroup")
        if autogroup.exists():  # a kernel with autogroup (most Linux desktops and servers)
            assert autogroup.read_text().split()[-1] == "19"
            assert Path(f"/proc/{plain.process.pid}/autogroup").read_text().split()[-1] == "0"
    finally:
        supervisor.stop_all()


def test_a_part_that_runs_when_idle_runs_so_with_the_threads_it_starts_later(tmp_path):
    supervisor = Supervisor(tmp_path, quiet=True)
    # a thread of its own, started after the supervisor has set the part's priority
    code = ("import threading, time; time.sleep(0.3); threading.Thread(target=time.sleep, args=(60,)).start();"
            " time.sleep(60)")
    mail = Component("mail", _python(code), lambda: True, nice=19, idle=True)
    plain = Component("plain", _python(code), lambda: True)
    supervisor.start_stage("test", [mail, plain])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
                len(list(Path(f"/proc/{c.process.pid}/task").iterdir())) < 2 for c in (mail, plain)):
            time.sleep(0.05)

        def policies(comp):
            return {os.sched_getscheduler(int(t.name)) for t in Path(f"/proc/{comp.process.pid}/task").iterdir()}
        assert policies(mail) == {os.SCHED_IDLE}  # the thread started after it was lowered too
        assert policies(plain) == {os.SCHED_OTHER}
    finally:
        supervisor.stop_all()
