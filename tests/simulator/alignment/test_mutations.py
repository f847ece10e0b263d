"""Mutation tests: copies of our own scripts, contracts and specs, one misalignment each.

Each mutated copy is validated as a user project (`smsim validate PATH`); the
findings the mutation adds to those of the untouched copy must be errors of
the level that owns the rule, saying what to change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.alignment import builtin_project, load_project, validate_project


def test_the_untouched_copy_validates_like_our_own_steps(pristine: Path) -> None:
    copied = validate_project(load_project(pristine))
    ours = validate_project(builtin_project())
    assert sorted(copied.steps) == sorted(ours.steps)
    assert {(f.level, f.rule, f.step) for f in copied.findings} == {
        (f.level, f.rule, f.step) for f in ours.findings
    }


def test_renamed_path_in_the_script_is_caught_by_level_1(copy: Path, baseline, mutate) -> None:
    script = copy / "dockers/pytorch_bsm/train.py"
    mutate.replace(script, 'os.path.join(BASE_DIR, "model")', 'os.path.join(BASE_DIR, "models")', 1)
    added = baseline.errors_added(copy, 1)
    by_rule = {f.rule: f for f in added}
    assert "/opt/ml/model " in by_rule["path.unused_output"].message + " "
    undeclared = by_rule["path.undeclared"]
    assert "/opt/ml/models" in undeclared.message and "train.py:" in undeclared.location
    assert "did you mean /opt/ml/model?" in undeclared.fix


def test_renamed_path_in_a_contract_is_caught_by_level_1(copy: Path, baseline, mutate) -> None:
    contract = copy / "contracts/pytorch_train.py"
    mutate.replace(contract, '"/opt/ml/output/data"', '"/opt/ml/output/data/reports"')
    added = baseline.errors_added(copy, 1)
    unused = next(f for f in added if f.rule == "path.unused_output")
    assert "'data_output'" in unused.message and "/opt/ml/output/data/reports" in unused.message


def test_removed_spec_output_is_caught_by_level_2(copy: Path, baseline, mutate) -> None:
    mutate.drop_output(copy / "specs/model_evaluation.py", "eval_output")
    f = baseline.the_error(copy, 2)
    assert f.step == "ModelEvaluation" and "'eval_output'" in f.message
    assert "add OutputSpec(logical_name='eval_output'" in f.fix


def test_undeclared_environment_variable_is_caught_by_level_1(copy: Path, baseline) -> None:
    script = copy / "dockers/pytorch_bsm/train.py"
    text = script.read_text()
    script.write_text(text + '\nDEBUG = os.environ.get("BSM_DEBUG", "0")\n')
    f = baseline.the_error(copy, 1)
    assert f.rule == "env.undeclared" and "'BSM_DEBUG'" in f.message
    assert f.location.endswith(f"train.py:{len(text.splitlines()) + 2}")
    assert "optional_env_vars" in f.fix


def test_invalid_property_path_is_caught_by_level_4(copy: Path, baseline, mutate) -> None:
    mutate.set_property_path(
        copy / "specs/pytorch_training.py", "model_output", "properties.ModelArtifacts.S3Model"
    )
    f = baseline.the_error(copy, 4)
    assert f.step == "PyTorchTraining" and "'model_output'" in f.message
    assert "S3ModelArtifacts" in f.message  # the member it should have named


def test_unwireable_dependency_is_caught_by_level_3(copy: Path, baseline, mutate) -> None:
    spec = copy / "specs/create_model.py"
    mutate.replace(
        spec,
        "dependency_type=DependencyType.MODEL_ARTIFACTS",
        "dependency_type=DependencyType.HYPERPARAMETERS",
        1,
    )
    f = baseline.the_error(copy, 3)
    assert f.rule == "dependency.unresolved" and "'model_data'" in f.message
    assert "type compatible with hyperparameters" in f.message
    assert "PyTorchTraining" in f.fix  # the compatible source to provide


@pytest.mark.parametrize(
    ("script", "old", "new", "rule", "named"),
    [
        (
            "evaluate.py",
            '"output", "metrics"',
            '"output", "metric"',
            "path.undeclared",
            "/opt/ml/processing/output/metric",
        ),
        (
            "preprocess.py",
            '"input", "data"',
            '"input", "raw"',
            "path.undeclared",
            "/opt/ml/processing/input/raw",
        ),
        (
            "preprocess.py",
            'os.environ.get("TRAIN_RATIO", "0.7")',
            'os.environ.get("TRAIN_FRACTION", "0.7")',
            "env.undeclared",
            "'TRAIN_FRACTION'",
        ),
    ],
)
def test_processing_script_mutations_are_caught_by_level_1(
    copy: Path, baseline, script: str, old: str, new: str, rule: str, named: str, mutate
) -> None:
    mutate.replace(copy / "dockers/pytorch_bsm" / script, old, new, 1)
    added = baseline.added(copy)
    # A renamed variable also leaves the declared one unread: a level-1 warning.
    baseline.only_errors_at(added, 1, warnings_too=True)
    finding = next(f for f in added if f.rule == rule)
    assert f"{script}:" in finding.location
    assert named in finding.message  # names the path or variable it found
