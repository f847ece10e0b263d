"""Level 1 rules: one passing and one failing script for each."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from contracts.base import ProcessingScriptContract, TrainingScriptContract
from simulator.alignment.report import Finding, Severity
from simulator.alignment.script_contract import check_script_contract

HEADER = """
import argparse
import os
BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
"""

PROC = ProcessingScriptContract(
    entry_point="job.py",
    expected_input_paths={"data": "/opt/ml/processing/input/data"},
    expected_output_paths={
        "metrics": "/opt/ml/processing/output/metrics",
        "eval": "/opt/ml/processing/output/eval",
    },
    required_env_vars=["LABEL_FIELD"],
    optional_env_vars={"ID_FIELD": "id"},
    expected_arguments={"job-type": "evaluation"},
)

GOOD_BODY = """
DATA = os.path.join(BASE, "processing", "input", "data")
OUT = os.path.join(BASE, "processing", "output")
METRICS = os.path.join(OUT, "metrics")
EVAL = os.path.join(OUT, "eval")
FAILURE = os.path.join(BASE, "output", "failure")
LABEL = os.environ["LABEL_FIELD"]
ID = os.environ.get("ID_FIELD", "id")
parser = argparse.ArgumentParser()
parser.add_argument("--job_type", default="evaluation")
args = parser.parse_args()
"""


def _check(tmp_path: Path, body: str, contract=PROC) -> list[Finding]:
    script = tmp_path / contract.entry_point
    script.write_text(textwrap.dedent(HEADER + body))
    return check_script_contract(contract, script, step="Step")


def _line_of(tmp_path: Path, text: str) -> int:
    lines = (tmp_path / PROC.entry_point).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def _rules(findings: list[Finding]) -> dict[str, Severity]:
    return {f.rule: f.severity for f in findings}


def test_aligned_script_has_no_findings(tmp_path: Path) -> None:
    # Intermediate directories (OUT) and platform paths (output/failure) need no declaration;
    # --job_type matches the contract's job-type (hyphens and underscores normalised).
    assert _check(tmp_path, GOOD_BODY) == []


def test_contract_path_the_script_never_uses(tmp_path: Path) -> None:
    findings = _check(tmp_path, GOOD_BODY.replace('EVAL = os.path.join(OUT, "eval")\n', ""))
    [f] = findings
    assert (f.level, f.rule, f.severity) == (1, "path.unused_output", Severity.ERROR)
    assert "'eval'" in f.message and "/opt/ml/processing/output/eval" in f.message
    assert "remove 'eval' from the contract" in f.fix


def test_undeclared_path_points_at_its_line_and_suggests_the_declared_one(tmp_path: Path) -> None:
    body = GOOD_BODY.replace('os.path.join(OUT, "metrics")', 'os.path.join(OUT, "metric")')
    findings = {f.rule: f for f in _check(tmp_path, body)}
    undeclared = findings["path.undeclared"]
    assert "/opt/ml/processing/output/metric," in undeclared.message + ","
    line = _line_of(tmp_path, '"metric"')
    assert undeclared.location.endswith(f"job.py:{line}")
    assert "did you mean /opt/ml/processing/output/metrics?" in undeclared.fix
    assert "expected_output_paths" in undeclared.fix
    unused = findings["path.unused_output"]
    assert "uses /opt/ml/processing/output/metric instead" in unused.message


def test_file_under_a_declared_path_and_unknown_tails_are_fine(tmp_path: Path) -> None:
    body = GOOD_BODY + 'REPORT = f"{METRICS}/evaluation.json"\nPLOT = os.path.join(EVAL, name)\n'
    assert _check(tmp_path, body) == []
    stray = GOOD_BODY + 'SUMMARY = os.path.join(OUT, "summary.json")\n'
    [f] = _check(tmp_path, stray)
    assert f.rule == "path.undeclared" and "/opt/ml/processing/output/summary.json" in f.message


def test_undeclared_environment_variable_is_an_error(tmp_path: Path) -> None:
    [f] = _check(tmp_path, GOOD_BODY + 'TOKEN = os.getenv("API_TOKEN", "")\n')
    assert (f.rule, f.severity) == ("env.undeclared", Severity.ERROR)
    assert "'API_TOKEN'" in f.message
    assert f.location.endswith(f"job.py:{_line_of(tmp_path, 'API_TOKEN')}")
    assert "required_env_vars" in f.fix and "optional_env_vars" in f.fix


def test_platform_variables_count_as_declared_per_job_type(tmp_path: Path) -> None:
    assert _check(tmp_path, GOOD_BODY + 'NAME = os.environ.get("PROCESSING_JOB_NAME")\n') == []
    [f] = _check(tmp_path, GOOD_BODY + 'HOSTS = os.environ["SM_HOSTS"]\n')
    assert f.rule == "env.undeclared" and "only in training jobs" in f.message
    training = TrainingScriptContract(
        entry_point="train.py",
        expected_output_paths={"model": "/opt/ml/model"},
    )
    body = """
MODEL = os.environ.get("SM_MODEL_DIR", os.path.join(BASE, "model"))
HOSTS = os.environ["SM_HOSTS"]
NAME = os.environ["TRAINING_JOB_NAME"]
RANK = int(os.environ.get("RANK", "0"))
"""
    assert _check(tmp_path, body, training) == []


def test_required_variable_never_read_is_an_error(tmp_path: Path) -> None:
    findings = _check(tmp_path, GOOD_BODY.replace('os.environ["LABEL_FIELD"]', '"label"'))
    assert _rules(findings) == {"env.required_unread": Severity.ERROR}
    assert "'LABEL_FIELD'" in findings[0].message


def test_optional_variable_unread_or_read_without_default_is_a_warning(tmp_path: Path) -> None:
    unread = _check(tmp_path, GOOD_BODY.replace('os.environ.get("ID_FIELD", "id")', '"id"'))
    assert _rules(unread) == {"env.optional_unread": Severity.WARNING}
    no_default = _check(
        tmp_path, GOOD_BODY.replace('os.environ.get("ID_FIELD", "id")', 'os.environ["ID_FIELD"]')
    )
    [f] = no_default
    assert (f.rule, f.severity) == ("env.optional_without_default", Severity.WARNING)
    assert "os.environ.get('ID_FIELD', 'id')" in f.fix


def test_computed_variable_name_is_a_warning(tmp_path: Path) -> None:
    [f] = _check(tmp_path, GOOD_BODY + "def read(k):\n    return os.environ[k.upper()]\n")
    assert (f.rule, f.severity) == ("env.dynamic", Severity.WARNING)


@pytest.mark.parametrize(
    ("replacement", "rule", "severity"),
    [
        # The contract passes --job-type; a script without it exits "unrecognized arguments".
        ('parser.add_argument("--mode")', "argument.undefined", Severity.ERROR),
        # A required argument the contract never passes: "the following arguments are required".
        (
            'parser.add_argument("--job_type"); parser.add_argument("--split", required=True)',
            "argument.undeclared_required",
            Severity.ERROR,
        ),
        (
            'parser.add_argument("--job_type"); parser.add_argument("--seed", default=1)',
            "argument.undeclared_optional",
            Severity.WARNING,
        ),
    ],
)
def test_argument_rules(tmp_path: Path, replacement: str, rule: str, severity: Severity) -> None:
    body = GOOD_BODY.replace('parser.add_argument("--job_type", default="evaluation")', replacement)
    findings = [f for f in _check(tmp_path, body) if f.rule.startswith("argument")]
    assert {(f.rule, f.severity) for f in findings} >= {(rule, severity)}


def test_an_argument_with_its_own_dest_matches_by_its_flag(tmp_path: Path) -> None:
    # The contract passes --job-type on the command line; where argparse stores it is free.
    body = GOOD_BODY.replace(
        'parser.add_argument("--job_type", default="evaluation")',
        'parser.add_argument("-j", "--job-type", dest="kind", required=True)',
    )
    assert _check(tmp_path, body) == []


def test_parse_known_args_makes_a_missing_argument_a_warning(tmp_path: Path) -> None:
    body = GOOD_BODY.replace('parser.add_argument("--job_type", default="evaluation")', "").replace(
        "parser.parse_args()", "parser.parse_known_args()[0]"
    )
    [f] = _check(tmp_path, body)
    assert (f.rule, f.severity) == ("argument.undefined", Severity.WARNING)
    no_argparse = _check(tmp_path, GOOD_BODY.split("parser =")[0])
    assert any("defines no argparse arguments" in f.message for f in no_argparse)


def test_syntax_error_is_reported(tmp_path: Path) -> None:
    [f] = _check(tmp_path, "def broken(:\n")
    assert f.rule == "script.syntax" and f.severity is Severity.ERROR
