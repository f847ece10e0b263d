"""simulator.jobs.outcome: the first host to fail or time out ends a multi-host job, and
its FailureReason names that host (as the service reports a multi-instance failure)."""

from __future__ import annotations

import threading

from simulator.hosts.launcher import ProcessResult
from simulator.jobs.outcome import JobHalt, JobOutcome, host_failure_reason

OK = ProcessResult(0, None, [], 1.0)
FAILED = ProcessResult(1, None, ["boom"], 1.0)
TIMED_OUT = ProcessResult(None, "MaxRuntimeExceeded", [], 1.0)
STOPPED = ProcessResult(None, "Stopped", [], 1.0)


def test_the_host_that_ended_the_job_is_the_failure_even_if_others_failed_later() -> None:
    outcome = JobOutcome({"algo-1": FAILED, "algo-2": FAILED}, first="algo-2")
    assert outcome.failed() == ("algo-2", FAILED)
    assert outcome.stop_reason(stop_requested=False) is None


def test_a_host_out_of_time_makes_the_job_max_runtime_exceeded() -> None:
    outcome = JobOutcome({"algo-1": STOPPED, "algo-2": TIMED_OUT}, first="algo-2")
    assert outcome.failed() is None
    assert outcome.stop_reason(stop_requested=False) == "MaxRuntimeExceeded"


def test_a_stop_request_wins_over_how_the_hosts_ended() -> None:
    outcome = JobOutcome({"algo-1": STOPPED, "algo-2": OK})
    assert outcome.stop_reason(stop_requested=True) == "Stopped"


def test_without_a_first_host_any_failed_host_is_the_failure() -> None:
    assert JobOutcome({"algo-1": OK, "algo-2": FAILED}).failed() == ("algo-2", FAILED)
    assert JobOutcome({"algo-1": OK, "algo-2": OK}).failed() is None


def test_the_reason_names_the_host_only_when_the_job_has_several() -> None:
    reason = "AlgorithmError: exit 1\nTraceback ..."
    assert host_failure_reason(reason, "algo-2", 1) == reason
    named = host_failure_reason(reason, "algo-2", 3)
    assert named == "AlgorithmError: exit 1 (algo-2)\nTraceback ..."


def test_the_halt_is_set_by_a_stop_request_or_by_a_host() -> None:
    stop = threading.Event()
    halt = JobHalt(stop)
    assert not halt.is_set()
    stop.set()
    assert halt.is_set()
    other = JobHalt(threading.Event())
    other.set()
    assert other.is_set()
