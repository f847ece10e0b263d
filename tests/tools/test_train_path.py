"""tools/train_path.py's measure (#12): stacks reduced to hops, returns, the union, cycles.

The tool itself runs a whole `smsim train` under a profiler (by hand, like benchmarks/);
these check the definitions its docstring states, on stacks and graphs given here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("train_path", REPO / "tools" / "train_path.py")
assert _spec is not None and _spec.loader is not None
train_path = importlib.util.module_from_spec(_spec)
sys.modules["train_path"] = train_path  # its dataclasses look their module up there
_spec.loader.exec_module(train_path)


def test_a_source_file_is_named_by_its_module_and_other_files_are_not_smsim():
    assert train_path.smsim_module(str(REPO / "simulator/endpoint/jobs.py")) == (
        "simulator.endpoint.jobs"
    )
    assert train_path.smsim_module(str(REPO / "simulator/endpoint/__init__.py")) == (
        "simulator.endpoint"
    )
    assert train_path.smsim_module(json.__file__) is None
    assert train_path.smsim_module(str(REPO / "tools/train_path.py")) is None


def test_consecutive_frames_of_one_module_are_one_hop():
    assert train_path.collapse(["a", "a", "b", "b", "a", "c"]) == ["a", "b", "a", "c"]


def test_each_return_to_a_module_already_left_is_counted_with_its_hops():
    assert train_path.returns(["a", "b", "a", "c", "a"]) == [["a", "b", "a"], ["a", "c", "a"]]
    assert train_path.returns(["a", "b", "c", "b", "a"]) == [
        ["b", "c", "b"],
        ["a", "b", "c", "b", "a"],
    ]
    assert train_path.returns(["a", "b", "c"]) == []


def test_the_path_keeps_each_module_once_in_order_of_first_appearance():
    assert train_path.union([["cli", "session"], ["router", "jobs"], ["runner", "jobs"]]) == [
        "cli",
        "session",
        "router",
        "jobs",
        "runner",
    ]


def test_import_cycles_are_the_components_of_two_or_more_modules():
    graph = {"p": {"p.a"}, "p.a": {"p.b"}, "p.b": {"p"}, "q": {"p"}, "r": set()}
    assert train_path._components(graph) == [["p", "p.a", "p.b"]]
    assert train_path._components({"x": {"y"}, "y": set()}) == []
