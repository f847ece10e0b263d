"""`smsim validate PATH`: discovering and importing a user's project laid out like ours."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import contracts
from simulator.alignment import ProjectError, load_project, validate_project
from simulator.alignment.report import Severity

CONTRACT = """
from contracts.base import ProcessingScriptContract

CLEAN_CONTRACT = ProcessingScriptContract(
    entry_point="clean.py",
    expected_input_paths={"raw": "/opt/ml/processing/input/raw"},
    expected_output_paths={"cleaned": "/opt/ml/processing/output/cleaned"},
    optional_env_vars={"DROP_NA": "1"},
)
"""

SPEC = """
from contracts.clean import CLEAN_CONTRACT
from specs.base import (
    DependencySpec, DependencyType, NodeType, OutputSpec, SageMakerStepType, StepSpecification,
)

CLEAN_SPEC = StepSpecification(
    step_type="Clean",
    sagemaker_step_type=SageMakerStepType.PROCESSING,
    node_type=NodeType.INTERNAL,
    script_contract=CLEAN_CONTRACT,
    dependencies=[
        DependencySpec(
            logical_name="raw",
            dependency_type=DependencyType.PROCESSING_OUTPUT,
            required=False,
            compatible_sources=["Loader"],
        )
    ],
    outputs=[
        OutputSpec(
            logical_name="cleaned",
            output_type=DependencyType.PROCESSING_OUTPUT,
            property_path="properties.ProcessingOutputConfig.Outputs['cleaned'].S3Output.S3Uri",
        )
    ],
)
"""

SCRIPT = """
import os
BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
RAW = os.path.join(BASE, "processing", "input", "raw")
OUT = os.path.join(BASE, "processing", "output", "cleaned")
DROP = os.environ.get("DROP_NA", "1") == "1"
"""


def _project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    return _project(
        tmp_path / "proj",
        {
            "contracts/clean.py": CONTRACT,
            "specs/clean_spec.py": SPEC,
            "dockers/cleaner/clean.py": SCRIPT,
        },
    )


def test_user_project_is_discovered_and_validates(user_project: Path) -> None:
    project = load_project(user_project)
    assert [s.step_type for s in project.specs] == ["Clean"]
    assert [c.entry_point for c in project.contracts] == ["clean.py"]
    report = validate_project(project)
    assert report.findings == [] and report.ok
    assert report.checked["Clean"][1].endswith("dockers/cleaner/clean.py")


def test_loading_leaves_our_packages_as_they_were(user_project: Path, tmp_path: Path) -> None:
    # The user's module has the name of one of ours: theirs wins during the load only.
    _project(
        user_project,
        {
            "contracts/pytorch_train.py": CONTRACT.replace(
                "CLEAN_CONTRACT", "PYTORCH_TRAIN_CONTRACT"
            )
        },
    )
    from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT as ours

    before_path = list(contracts.__path__)
    project = load_project(user_project)
    assert "clean.py" in [c.entry_point for c in project.contracts]
    assert list(contracts.__path__) == before_path
    assert "contracts.clean" not in sys.modules
    from contracts.pytorch_train import PYTORCH_TRAIN_CONTRACT

    assert PYTORCH_TRAIN_CONTRACT.entry_point == "train.py"
    assert contracts.pytorch_train.PYTORCH_TRAIN_CONTRACT is ours
    assert not hasattr(contracts, "clean")


def test_script_errors_in_a_user_project(user_project: Path) -> None:
    script = user_project / "dockers/cleaner/clean.py"
    script.write_text(script.read_text().replace('"cleaned"', '"clean"'))
    report = validate_project(load_project(user_project))
    assert {f.level for f in report.errors} == {1}
    undeclared = next(f for f in report.errors if f.rule == "path.undeclared")
    assert undeclared.location.endswith("clean.py:5")
    assert "/opt/ml/processing/output/cleaned" in undeclared.fix


def test_import_error_is_a_finding_at_the_failing_line(user_project: Path) -> None:
    _project(user_project, {"specs/broken.py": "import os\nraise RuntimeError('boom')\n"})
    report = validate_project(load_project(user_project))
    [f] = [f for f in report.findings if f.level == 0]
    assert f.severity is Severity.ERROR and "boom" in f.message
    assert f.location.endswith("broken.py:2")
    assert "Clean" in report.steps  # the other modules still load


def test_a_module_exiting_at_import_is_a_finding_not_the_end_of_the_run(
    user_project: Path,
) -> None:
    _project(user_project, {"specs/cli_helpers.py": "import sys\nsys.exit(3)\n"})
    report = validate_project(load_project(user_project))
    [f] = [f for f in report.findings if f.level == 0]
    assert f.rule == "project.import" and "SystemExit: 3" in f.message
    assert f.location.endswith("cli_helpers.py:2")
    assert "Clean" in report.steps


def test_an_invalid_spec_is_reported_by_its_rule_not_by_pydantic(user_project: Path) -> None:
    spec = user_project / "specs/clean_spec.py"
    spec.write_text(spec.read_text().replace("NodeType.INTERNAL", "NodeType.SINGULAR"))
    report = validate_project(load_project(user_project))
    [f] = [f for f in report.findings if f.level == 0]
    assert f.message.startswith("importing clean_spec.py failed: invalid StepSpecification: ")
    assert "a singular node must have no dependencies and no outputs" in f.message
    assert "errors.pydantic.dev" not in f.message and "input_value" not in f.message
    assert f.location.endswith("clean_spec.py:7")  # the line of CLEAN_SPEC = StepSpecification(


def test_a_user_module_shadowed_by_ours_is_reported(user_project: Path) -> None:
    _project(user_project, {"contracts/base.py": "X = 1\n", "specs/__init__.py": ""})
    report = validate_project(load_project(user_project))
    [f] = [f for f in report.findings if f.level == 0]
    assert (f.severity, f.rule) == (Severity.WARNING, "project.shadowed_module")
    assert "contracts/base.py is not loaded" in f.message and "contracts/common.py" in f.fix
    assert "Clean" in report.steps


def test_invalid_property_path_is_deferred_to_level_4(user_project: Path) -> None:
    spec = user_project / "specs/clean_spec.py"
    spec.write_text(spec.read_text().replace("S3Output.S3Uri", "S3Output.S3Url"))
    report = validate_project(load_project(user_project))
    [f] = report.errors
    assert (f.level, f.rule) == (4, "property_path.invalid")
    assert "S3Url" in f.message and "S3Uri" in f.message  # did-you-mean


def test_duplicate_step_type_is_an_error(user_project: Path) -> None:
    # Same step type, different content (a second registration is refused by a registry).
    twin = SPEC.replace("CLEAN_SPEC", "OTHER_SPEC").replace("required=False", "required=True")
    _project(user_project, {"specs/other.py": twin})
    report = validate_project(load_project(user_project))
    assert any(f.rule == "project.duplicate_step_type" for f in report.errors)


def test_script_discovery(user_project: Path, tmp_path: Path) -> None:
    _project(user_project, {"scripts/clean.py": SCRIPT})
    report = validate_project(load_project(user_project))
    assert [f.rule for f in report.errors] == ["script.ambiguous"]
    chosen = tmp_path / "elsewhere"
    _project(chosen, {"clean.py": SCRIPT})
    assert validate_project(load_project(user_project, scripts_dir=chosen)).ok
    (user_project / "scripts/clean.py").unlink()
    (user_project / "dockers/cleaner/clean.py").unlink()
    [f] = validate_project(load_project(user_project)).errors
    assert f.rule == "script.missing" and "--scripts" in f.fix


def test_not_a_project_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a directory"):
        load_project(tmp_path / "missing")
    with pytest.raises(ProjectError, match="contracts/ nor specs/"):
        load_project(tmp_path)


TRAIN_SPEC = """
from contracts.base import TrainingScriptContract
from specs.base import NodeType, OutputSpec, DependencyType, SageMakerStepType, StepSpecification

FIT_CONTRACT = TrainingScriptContract(
    entry_point="fit.py", expected_output_paths={"model": "/opt/ml/model"}
)
METRIC_DEFINITIONS = [{"Name": "valid:auc", "Regex": "valid_auc=([0-9.]+)"}]
FIT_SPEC = StepSpecification(
    step_type="Fit",
    sagemaker_step_type=SageMakerStepType.TRAINING,
    node_type=NodeType.SOURCE,
    script_contract=FIT_CONTRACT,
    outputs=[
        OutputSpec(
            logical_name="model",
            output_type=DependencyType.MODEL_ARTIFACTS,
            property_path="properties.ModelArtifacts.S3ModelArtifacts",
        ),
        OutputSpec(
            logical_name="auc",
            output_type=DependencyType.CUSTOM_PROPERTY,
            data_type="Float",
            property_path="properties.FinalMetricDataList['valid:auc'].Value",
        ),
    ],
)
"""

FIT = """
import os
MODEL = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
auc = 0.9
print(f"valid_auc={auc:.3f}")
"""


def test_module_metric_definitions_are_used_by_level_4(tmp_path: Path) -> None:
    root = _project(tmp_path / "fit", {"specs/fit.py": TRAIN_SPEC, "fit.py": FIT})
    report = validate_project(load_project(root))
    assert report.findings == []
    (root / "fit.py").write_text(FIT.replace("valid_auc", "val_auc"))
    [f] = validate_project(load_project(root)).findings
    assert (f.level, f.rule, f.severity) == (4, "metric_definition.unmatched", Severity.WARNING)
    spec = root / "specs/fit.py"
    spec.write_text(TRAIN_SPEC.replace("'valid:auc'].Value", "'valid:acc'].Value"))
    (root / "fit.py").write_text(FIT)
    [f] = validate_project(load_project(root)).findings
    assert (f.level, f.severity) == (4, Severity.ERROR) and "'valid:acc'" in f.message


def test_a_script_too_deep_to_analyse_is_a_warning_not_a_crash(user_project: Path) -> None:
    # A long generated `+` chain is valid Python but deeper than the analysis can walk.
    script = user_project / "dockers/cleaner/clean.py"
    script.write_text(SCRIPT + "QUERY = " + " + ".join(['"x"'] * 3000) + "\n")
    report = validate_project(load_project(user_project))
    [f] = report.findings
    assert f.severity is Severity.WARNING and f.rule == "script.not_analysed"
    assert "clean.py" in f.message and "RecursionError" in f.message
    assert report.ok and report.checked["Clean"][1].endswith("clean.py")


_MODULE_METRICS = 'METRIC_DEFINITIONS = [{"Name": "valid:auc", "Regex": "valid_auc=([0-9.]+)"}]\n'
_CONTRACT = 'entry_point="fit.py", expected_output_paths={"model": "/opt/ml/model"}'


def test_contract_metric_definitions_are_used_by_level_4(tmp_path: Path) -> None:
    on_contract = TRAIN_SPEC.replace(_MODULE_METRICS, "").replace(
        _CONTRACT,
        _CONTRACT
        + ',\n    metric_definitions=[{"Name": "valid:auc", "Regex": "valid_auc=([0-9.]+)"}]',
    )
    assert "METRIC_DEFINITIONS" not in on_contract
    root = _project(tmp_path / "fit", {"specs/fit.py": on_contract, "fit.py": FIT})
    assert validate_project(load_project(root)).findings == []
    (root / "specs/fit.py").write_text(on_contract.replace("'valid:auc'].Value", "'valid:acc'"))
    [f] = validate_project(load_project(root)).findings
    assert (f.level, f.severity) == (4, Severity.ERROR) and "'valid:acc'" in f.message


def test_module_metric_definitions_win_over_the_contracts(tmp_path: Path) -> None:
    # Projects written before contracts carried metric definitions keep their meaning.
    both = TRAIN_SPEC.replace(
        _CONTRACT,
        _CONTRACT + ',\n    metric_definitions=[{"Name": "other:m", "Regex": "other=([0-9.]+)"}]',
    )
    root = _project(tmp_path / "fit", {"specs/fit.py": both, "fit.py": FIT})
    assert validate_project(load_project(root)).findings == []  # valid:auc is defined
