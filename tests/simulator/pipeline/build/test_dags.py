"""Named DAGs: the BSM DAG's shape, and malformed DAGs refused."""

from __future__ import annotations

import pytest

from simulator.errors import ValidationError
from simulator.pipeline.build.dags import BSM, PipelineDAG, QualityGate, get_dag
from specs.registry import default_registry


def test_bsm_steps_are_registered_specs() -> None:
    registry = default_registry()
    for step_type in BSM.steps.values():
        assert step_type in registry


def test_bsm_order_runs_each_step_after_its_inputs() -> None:
    order = BSM.topological_order()
    assert order.index("TabularPreprocessing") < order.index("PyTorchTraining")
    assert order.index("PyTorchTraining") < order.index("ModelEvaluation")
    for up, down in BSM.edges:
        assert order.index(up) < order.index(down)


def test_bsm_gate_guards_model_creation_and_registration() -> None:
    gate = BSM.gate
    assert gate is not None and gate.source_step == "ModelEvaluation"
    assert gate.json_path == "metrics.auroc.value"
    # The batch transform serves the created model, so it runs only past the gate too.
    assert BSM.gated_steps() == {"CreateBSMModel", "RegisterBSMModel", "BatchTransformTest"}
    assert not BSM.gated("ModelEvaluation")


def test_unknown_dag_lists_known_names() -> None:
    with pytest.raises(ValidationError, match="bsm"):
        get_dag("nope")


def _dag(**changes: object) -> PipelineDAG:
    base = {
        "name": "t",
        "description": "",
        "steps": {"A": "TabularPreprocessing", "B": "PyTorchTraining"},
        "edges": (("A", "B"),),
    }
    base.update(changes)
    return PipelineDAG(**base)  # type: ignore[arg-type]


def test_edge_to_an_unknown_step_is_refused() -> None:
    with pytest.raises(ValidationError, match="edges\\[0\\].*'C'"):
        _dag(edges=(("A", "C"),))


def test_cycle_is_refused() -> None:
    with pytest.raises(ValidationError, match="cycle"):
        _dag(edges=(("A", "B"), ("B", "A")))


def test_gate_must_reference_steps_and_not_clash() -> None:
    gate = QualityGate(
        name="A",
        source_step="Z",
        output_name="m",
        property_file="R",
        file_path="e.json",
        json_path="x",
        threshold_parameter="T",
        gated_steps=("B",),
        fail_step="F",
    )
    with pytest.raises(ValidationError) as info:
        _dag(gate=gate)
    text = str(info.value)
    assert "gate.source_step" in text and "must differ" in text
