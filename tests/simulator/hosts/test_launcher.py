"""simulator.hosts.launcher: real subprocesses, log streaming, metrics, runtime limit, stop."""

from __future__ import annotations

import os
import sys
import threading

from simulator.hosts.launcher import MetricParser, run_process


def run(tmp_path, code: str, **kw):
    lines: list[str] = []
    result = run_process(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        log_dir=tmp_path / "logs",
        prefix="job/algo-1",
        sink=lines.append,
        **kw,
    )
    return result, lines


def test_lines_prefixed_logged_and_metrics_parsed(tmp_path):
    metrics = MetricParser(
        [
            {"Name": "loss", "Regex": r"loss=([0-9\.]+)"},
            {"Name": "acc", "Regex": r"acc=([0-9\.]+)"},
            {"Name": "never", "Regex": r"never=([0-9\.]+)"},
        ]
    )
    code = (
        "import sys\n"
        "print('loss=0.9 acc=0.5')\nprint('loss=0.4')\nprint('acc=oops')\n"
        "print('warn', file=sys.stderr)\n"
    )
    result, lines = run(tmp_path, code, metrics=metrics)
    assert result.exit_code == 0 and result.stop_reason is None
    assert "[job/algo-1] loss=0.4" in lines and "[job/algo-1] warn" in lines
    assert [(m["MetricName"], m["Value"]) for m in metrics.final()] == [("loss", 0.4), ("acc", 0.5)]
    assert "loss=0.9 acc=0.5" in (tmp_path / "logs" / "algo-1.log").read_text()
    assert (tmp_path / "logs" / "algo-1.stderr.log").read_text() == "warn\n"
    assert result.stderr_tail == ["warn"]


def test_exit_code_reported(tmp_path):
    result, _ = run(tmp_path, "import sys; sys.exit(7)")
    assert result.exit_code == 7


def test_max_runtime_terminates_then_kills(tmp_path):
    # Ignores SIGTERM: the grace period passes, SIGKILL ends it.
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\ntime.sleep(60)\n"
    )
    result, _ = run(tmp_path, code, max_runtime=0.5, grace_seconds=0.5)
    assert result.stop_reason == "MaxRuntimeExceeded"
    assert result.exit_code == -9


def test_sigterm_handler_gets_the_grace_period(tmp_path):
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n    print('saving on SIGTERM', flush=True)\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('up', flush=True)\ntime.sleep(60)\n"
    )
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    result, lines = run(tmp_path, code, stop_event=stop, grace_seconds=10)
    assert result.stop_reason == "Stopped"
    assert "[job/algo-1] saving on SIGTERM" in lines
    assert result.exit_code == 0


def test_missing_interpreter(tmp_path):
    result = run_process(
        ["/no/such/python"],
        cwd=tmp_path,
        env=dict(os.environ),
        log_dir=tmp_path / "l",
        prefix="j/algo-1",
        sink=lambda _: None,
    )
    assert result.exit_code == 127 and "cannot start" in result.stderr_tail[0]


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left for init to reap counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _gone(pid: int, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


SPAWNS_A_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(f'child={child.pid}', flush=True)\n"
)


def _child_pid(lines: list[str]) -> int:
    (line,) = [x for x in lines if "child=" in x]
    return int(line.rsplit("=", 1)[1])


def test_timeout_kills_the_whole_process_group(tmp_path):
    """MaxRuntimeInSeconds ends the entry point and everything it started: no orphans."""
    code = SPAWNS_A_CHILD + "time.sleep(120)\n"
    result, lines = run(tmp_path, code, max_runtime=1.0, grace_seconds=0.5)
    assert result.stop_reason == "MaxRuntimeExceeded"
    child = _child_pid(lines)
    assert _gone(child), f"child {child} of the stopped entry point still runs"


def test_processes_left_behind_by_a_finished_entry_point_are_ended(tmp_path):
    """An entry point exiting 0 with a background child: the container ends, so does it."""
    result, lines = run(tmp_path, SPAWNS_A_CHILD)
    assert result.exit_code == 0 and result.stop_reason is None
    child = _child_pid(lines)
    assert _gone(child), f"child {child} outlived its job"
