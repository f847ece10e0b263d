"""Nothing outlives the simulator (#17, requirement 1): SIGKILL of the process running
LocalSageMaker takes the job's script, its child and a daemon grandchild with it."""

from __future__ import annotations

import signal

import psutil
import pytest


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
