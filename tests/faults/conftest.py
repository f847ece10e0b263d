"""Fixtures of the fault suite (#17).

* ``container_mode``: each test runs in both container modes, ``namespace`` (skipped
  with the probe's reason where no mount namespace can be made) and ``fallback``.
* ``simulator_process(workspace, what)``: start ``driver.py`` (a process running
  LocalSageMaker with a job whose script has a child and a daemon grandchild) and wait
  until the script wrote their pids; returns (the Popen, [psutil.Process of the script,
  its child, the daemon]). Every process started is killed at the test's end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

DRIVER = Path(__file__).with_name("driver.py")
REPO = Path(__file__).resolve().parents[2]
WAIT_FOR_SCRIPT = 120.0  # a generous bound on a start: a loaded CI machine is slow


@pytest.fixture(params=["namespace", "fallback"])
def container_mode(request: pytest.FixtureRequest) -> str:
    if request.param == "namespace":
        from simulator.hosts import namespace

        support = namespace.probe()
        if not support.available:
            pytest.skip(f"no mount namespace here: {support.reason}")
    return str(request.param)


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            return path.read_text()
        if proc.poll() is not None:
            raise AssertionError(f"the simulator process exited with {proc.returncode} first")
        time.sleep(0.1)
    raise AssertionError(f"{path} not written within {timeout:.0f} s")


@pytest.fixture
def simulator_process(
    tmp_path: Path, container_mode: str
) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], list[psutil.Process]]]]:
    started: list[Any] = []

    def start(workspace: Path, what: str) -> tuple[subprocess.Popen[bytes], list[psutil.Process]]:
        pid_file = tmp_path / f"pids-{len(started)}"
        log = open(tmp_path / f"driver-{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(workspace), container_mode, what, str(pid_file)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        pids = [int(p) for p in wait_for_file(pid_file, proc, WAIT_FOR_SCRIPT).split()]
        processes = [psutil.Process(p) for p in pids]
        started.extend(processes)
        return proc, processes

    yield start
    for item in started:  # whatever the test left (it asserts they are gone)
        try:
            if isinstance(item, subprocess.Popen):
                item.kill()
                item.wait()
            elif item.is_running():
                item.send_signal(signal.SIGKILL)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass
