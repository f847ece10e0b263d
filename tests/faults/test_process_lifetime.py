"""Nothing outlives the simulator (#17, requirement 1): SIGKILL of the process running
LocalSageMaker takes the job's script, its child and a daemon grandchild with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("what", ["train-loud", "train-quiet"])
def test_sigkill_of_the_simulator_kills_the_script_and_its_children(
    tmp_path, simulator_process, what
):
    proc, processes = simulator_process(tmp_path / "ws", what)
    assert all(p.is_running() for p in processes)  # the script, its child, the daemon run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # wait_procs compares each process's start time too: a reused pid is not "alive".
    _, alive = psutil.wait_procs(processes, timeout=15)
    assert alive == [], f"outlived the simulator: {[(p.pid, p.cmdline()) for p in alive]}"


def test_a_pipeline_steps_job_dies_with_the_simulator(tmp_path, simulator_process):
    proc, processes = simulator_process(tmp_path / "ws", "pipeline")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(processes, timeout=15)
    assert alive == []


# A process that starts a host process under the keeper from a thread that then ends (as
# a server's request thread starts a model server), prints the pids, and waits.
THREAD_STARTER = r"""
import subprocess, sys, threading, time
from simulator.hosts.keeper import keeper_argv
script = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)
started = {}
def start():
    started["proc"] = subprocess.Popen(
        keeper_argv([sys.executable, "-c", script]), stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    # The script runs, so the keeper's parent-death signal is armed; then the thread ends.
    started["child"] = started["proc"].stdout.readline().strip()
thread = threading.Thread(target=start)
thread.start()
thread.join()  # the thread that forked the keeper is gone: its parent-death signal fired
keeper, child = started["proc"], started["child"]
time.sleep(0.5)  # let the keeper handle that signal (a wrong keeper would exit now)
print(keeper.pid, child, flush=True)
time.sleep(600)
"""


def test_the_end_of_the_starting_thread_is_not_the_death_of_the_simulator(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", THREAD_STARTER],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        keeper_pid, child_pid = (int(p) for p in proc.stdout.readline().split())
        keeper, child = psutil.Process(keeper_pid), psutil.Process(child_pid)
        script = next(p for p in keeper.children() if p.pid != child_pid)
        # The starting thread ended (a request thread does): the host process runs on.
        assert all(p.is_running() for p in (keeper, script, child))
        proc.send_signal(signal.SIGKILL)  # now the whole simulator dies
        proc.wait()
        assert psutil.wait_procs([keeper, script, child], timeout=15)[1] == []
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("raise SystemExit(3)", 3),
        ("pass", 0),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -signal.SIGTERM),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
    ],
)
def test_the_keeper_exits_as_the_script_did(code, expected):
    from simulator.hosts.keeper import keeper_argv

    done = subprocess.run(
        keeper_argv([sys.executable, "-c", code]),
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
    )
    assert done.returncode == expected, done.stderr
    assert done.stderr == ""  # nothing of the keeper's own in the job's log
