"""The serving contract of inference.py: what the model server's script may read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from contracts.base import ServingScriptContract
from contracts.pytorch_inference import PYTORCH_INFERENCE_CONTRACT as CONTRACT
from simulator.alignment.script_contract import check_script_contract
from specs.pytorch_transform import PYTORCH_TRANSFORM_SPEC

INFERENCE = Path(__file__).resolve().parents[2] / "dockers" / "pytorch_bsm" / "inference.py"


def test_is_the_serving_contract_of_the_transform_step() -> None:
    assert isinstance(CONTRACT, ServingScriptContract)
    assert PYTORCH_TRANSFORM_SPEC.script_contract is CONTRACT
    result = PYTORCH_TRANSFORM_SPEC.validate_contract_alignment()
    # Records and predictions travel over HTTP, so no path-alignment warning applies.
    assert result.is_valid and result.warnings == []


def test_inference_py_reads_only_what_the_contract_declares() -> None:
    assert check_script_contract(CONTRACT, INFERENCE) == []


def test_an_undeclared_environment_variable_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "inference.py"
    text = INFERENCE.read_text()
    script.write_text(
        text.replace(
            'os.environ.get("OMP_NUM_THREADS", "1")',
            'os.environ.get("OMP_NUM_THREADS", "1") + os.environ["MODEL_THRESHOLD"]',
        )
    )
    assert script.read_text() != text
    findings = check_script_contract(CONTRACT, script)
    assert any("MODEL_THRESHOLD" in f.message for f in findings if f.severity.value == "error")


def test_a_serving_script_writes_no_job_output() -> None:
    # A model server answers over HTTP; nothing it writes is uploaded (the roots say so).
    with pytest.raises(PydanticValidationError, match="outside"):
        ServingScriptContract(
            entry_point="inference.py",
            expected_output_paths={"predictions": "/opt/ml/output/data"},
        )
