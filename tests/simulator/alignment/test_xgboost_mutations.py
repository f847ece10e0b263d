"""`smsim validate` on the XGBoost trainer: clean as written, each misalignment caught.

A copy of our project (contracts, specs, both dockers) is validated as a user project;
each test breaks one thing in the XGBoost script, contract or spec and checks that the
findings it adds are errors of the level that owns the rule.
"""

from __future__ import annotations

from pathlib import Path

from simulator.alignment import builtin_project, load_project, validate_project


def test_our_steps_validate_clean_with_the_xgboost_trainer() -> None:
    report = validate_project(builtin_project())
    assert "XGBoostTraining" in report.steps and "PyTorchTraining" in report.steps
    assert report.findings == []


def test_the_copy_validates_like_our_own_steps(pristine: Path, baseline) -> None:
    assert baseline == set()
    assert "XGBoostTraining" in validate_project(load_project(pristine)).steps


def test_renamed_model_path_in_the_script_is_caught_by_level_1(
    copy: Path, baseline, mutate
) -> None:
    script = copy / "dockers/xgboost_bsm/xgboost_train.py"
    mutate.replace(script, 'os.path.join(BASE_DIR, "model")', 'os.path.join(BASE_DIR, "models")', 1)
    added = baseline.errors_added(copy, 1)
    undeclared = next(f for f in added if f.rule == "path.undeclared")
    assert "/opt/ml/models" in undeclared.message and "xgboost_train.py:" in undeclared.location


def test_undeclared_environment_variable_is_caught_by_level_1(copy: Path, baseline) -> None:
    script = copy / "dockers/xgboost_bsm/xgboost_train.py"
    script.write_text(script.read_text() + '\nNTHREADS = os.environ.get("XGB_THREADS", "1")\n')
    f = baseline.the_error(copy, 1)
    assert f.rule == "env.undeclared" and "'XGB_THREADS'" in f.message


def test_contract_output_renamed_is_caught_by_level_1(copy: Path, baseline, mutate) -> None:
    mutate.replace(
        copy / "contracts/xgboost_train.py", '"/opt/ml/checkpoints"', '"/opt/ml/checkpoints/x"', 1
    )
    added = baseline.errors_added(copy, 1)
    assert any(f.rule == "path.unused_output" and "'checkpoints'" in f.message for f in added)


def test_invalid_property_path_is_caught_by_level_4(copy: Path, baseline, mutate) -> None:
    mutate.set_property_path(
        copy / "specs/xgboost_training.py", "metrics_output", "properties.FinalMetrics"
    )
    f = baseline.the_error(copy, 4)
    assert f.step == "XGBoostTraining" and "'metrics_output'" in f.message


def test_removed_spec_output_is_caught_by_level_2(copy: Path, baseline, mutate) -> None:
    mutate.drop_output(copy / "specs/xgboost_training.py", "checkpoints")
    f = baseline.the_error(copy, 2)
    assert f.step == "XGBoostTraining" and "'checkpoints'" in f.message


def test_a_metric_regex_the_script_never_prints_is_reported(copy: Path, baseline, mutate) -> None:
    mutate.replace(
        copy / "contracts/xgboost_train.py", '("logloss", "auc")', '("logloss", "auc", "rmse")', 1
    )
    added = baseline.added(copy)
    assert {f.rule for f in added} == {"metric_definition.unmatched"}
    assert all("rmse" in f.message and f.step == "XGBoostTraining" for f in added)
