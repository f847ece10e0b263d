"""simulator.hosts.local: which mode a job's host starts in, why, and what each mode gives.

The decision is tested with the real probe of this machine, and — for "no namespace
can be made here" — with the probe's answer replaced, since CI always has one.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from simulator.errors import SmsimError, ValidationError
from simulator.hosts import local, namespace
from simulator.hosts.launcher import HostCommand, Supervision
from simulator.hosts.layout import HostLayout

NS = namespace.probe()
needs_namespace = pytest.mark.skipif(not NS.available, reason=NS.reason)
NO_NAMESPACE = namespace.NamespaceSupport(False, "util-linux `unshare` is not on PATH")


def test_the_argument_wins_over_the_variable_then_auto(monkeypatch):
    monkeypatch.setenv(local.MODE_ENV, "fallback")
    assert local.requested_mode("Namespace") == ("namespace", "container_mode argument")
    assert local.requested_mode(None) == ("fallback", "$SMSIM_CONTAINER_MODE")
    monkeypatch.delenv(local.MODE_ENV)
    assert local.requested_mode(None) == ("auto", "default")


def test_an_unknown_mode_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(local.MODE_ENV, "nmspace")
    with pytest.raises(ValidationError, match=r"\$SMSIM_CONTAINER_MODE.*'nmspace'.*auto"):
        local.local_launcher()


@needs_namespace
def test_auto_takes_the_namespace_where_there_is_one(monkeypatch):
    monkeypatch.delenv(local.MODE_ENV, raising=False)
    launcher = local.local_launcher()
    assert launcher.mode == "namespace" and launcher.reason == NS.reason
    assert launcher.view(HostLayout(Path("/ws/j/hosts/algo-1"))).root == Path("/opt/ml")


def test_fallback_forced_or_for_want_of_a_namespace(monkeypatch):
    forced = local.local_launcher("fallback")
    assert forced.mode == "fallback" and forced.reason == "forced by container_mode argument"
    tree = HostLayout(Path("/ws/j/hosts/algo-1"))
    assert forced.view(tree) == tree
    monkeypatch.setattr(namespace, "probe", lambda: NO_NAMESPACE)
    monkeypatch.delenv(local.MODE_ENV, raising=False)
    auto = local.local_launcher()
    assert auto.mode == "fallback"
    assert auto.reason == "no mount namespace here: util-linux `unshare` is not on PATH"


def test_a_forced_namespace_that_cannot_be_made_is_an_error(monkeypatch):
    monkeypatch.setattr(namespace, "probe", lambda: NO_NAMESPACE)
    with pytest.raises(SmsimError, match="'namespace'.*`unshare` is not on PATH.*=fallback"):
        local.local_launcher("namespace")


def _run(launcher, tmp_path: Path, argv: list[str], stop: threading.Event | None = None):
    tree = tmp_path / "jobs" / "j" / "hosts" / "algo-1"
    (tree / "code").mkdir(parents=True)
    lines: list[str] = []
    notes: list[str] = []
    watch = Supervision(
        log_dir=tmp_path / "logs",
        prefix="j/algo-1",
        sink=lines.append,
        note=notes.append,
        stop_event=stop,
        grace_seconds=2.0,
    )
    command = HostCommand(
        "algo-1",
        ("algo-1",),
        HostLayout(tree),
        argv,
        "/opt/ml/code",
        {
            "PATH": "/usr/bin:/bin",
            "OUT": "/opt/ml/code/out.txt",
        },
    )
    return launcher.run(command, watch), tree, lines, notes


@pytest.mark.parametrize("mode", [pytest.param("namespace", marks=needs_namespace), "fallback"])
def test_both_modes_run_the_same_container_command(tmp_path, mode):
    script = 'pwd; echo "$SAGEMAKER_BASE_DIR" > base.txt; echo hi > "$OUT"; exit 3'
    result, tree, lines, _ = _run(local.local_launcher(mode), tmp_path, ["sh", "-c", script])
    assert result.exit_code == 3
    assert (tree / "code" / "out.txt").read_text() == "hi\n"
    expected = "/opt/ml" if mode == "namespace" else str(tree)
    assert lines[0] == f"[j/algo-1] {expected}/code"
    assert (tree / "code" / "base.txt").read_text() == expected + "\n"
    assert (tmp_path / "logs" / "algo-1.log").read_text().startswith(expected)
    if mode == "namespace":
        hosts = (tree.parent / "etc-hosts").read_text()
        assert hosts.endswith("127.0.0.1\talgo-1\n")


@needs_namespace
def test_a_stop_reaches_a_process_in_its_namespace(tmp_path):
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    try:
        argv = ["sh", "-c", "echo started; exec sleep 60"]
        result, _, lines, _ = _run(local.local_launcher("namespace"), tmp_path, argv, stop)
    finally:
        timer.cancel()
    assert result.stop_reason == "Stopped"
    assert lines == ["[j/algo-1] started"]


def test_fallback_warns_of_a_tree_path_a_shell_would_split(tmp_path):
    spaced = tmp_path / "my jobs"
    result, _, _, notes = _run(local.local_launcher("fallback"), spaced, ["true"])
    assert result.exit_code == 0
    assert any("characters a shell splits" in n for n in notes)
