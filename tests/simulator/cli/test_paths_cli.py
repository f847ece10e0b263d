"""`smsim paths check`: PATH form and JSONL form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import output

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "property_paths.jsonl"


@pytest.fixture
def check_paths(cli):
    """`smsim paths check ARGS…`, stdin from ``stdin``."""
    return lambda *args, stdin=None: cli("paths", "check", *args, input=stdin)


def test_valid_paths_exit_zero(check_paths) -> None:
    result = check_paths("--step-type", "Training", "properties.ModelArtifacts.S3ModelArtifacts")
    assert result.exit_code == 0, result.output
    assert "✓ properties.ModelArtifacts.S3ModelArtifacts" in result.output


def test_an_invalid_path_exits_one_and_shows_the_suggestion(monkeypatch, check_paths) -> None:
    monkeypatch.setattr(output.console, "width", 80)
    result = check_paths(
        "--step-type",
        "Training",
        "properties.ModelArtifacts.S3ModelArtifacts",
        "properties.TrainingMetrics",
    )
    assert result.exit_code == 1
    assert "✗ properties.TrainingMetrics" in result.output
    assert "valid instead: properties.FinalMetricDataList" in result.output
    # A block per path, wrapped at word boundaries: nothing wider than the terminal.
    assert max(len(line.rstrip()) for line in result.output.splitlines()) <= 80


def test_json_output_of_the_path_form(check_paths) -> None:
    result = check_paths(
        "--json", "--step-type", "Processing", "properties.ProcessingJobName", "x.y"
    )
    rows = json.loads(result.output)
    assert [r["valid"] for r in rows] == [True, False]
    assert rows[0] == {
        "step_type": "Processing",
        "path": "properties.ProcessingJobName",
        "valid": True,
        "errors": [],
        "warnings": [],
    }


def test_jsonl_agrees_with_the_sdk_fixture_on_every_row(tmp_path: Path, check_paths) -> None:
    result = check_paths("--jsonl", str(FIXTURE))
    assert result.exit_code == 0
    inputs = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outputs) == len(inputs)
    assert outputs[0] == inputs[0]  # the {"meta": …} header passes through
    for given, got in zip(inputs[1:], outputs[1:], strict=True):
        assert got["path"] == given["path"] and got.get("mutation") == given.get("mutation")
        assert got["valid"] == given["valid"], got
        assert bool(got["errors"]) == (not given["valid"])
        assert isinstance(got["warnings"], list)


def test_jsonl_from_stdin_with_row_fields_and_bad_rows(check_paths) -> None:
    rows = [
        {"step_type": "Training", "path": "properties.TrainingMetrics", "id": 7},
        {
            "step_type": "Processing",
            "path": "properties.ProcessingOutputConfig.Outputs['tran'].S3Output.S3Uri",
            "output_names": ["train"],
        },
        {"step_type": "Training"},
        {"step_type": "Lambda", "path": "properties.X"},
    ]
    text = "\n".join(json.dumps(r) for r in rows) + "\n\n"
    result = check_paths("--jsonl", "-", stdin=text)
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4 and not any(o["valid"] for o in out)
    assert out[0]["id"] == 7 and "FinalMetricDataList" in out[0]["errors"][0]
    assert "did you mean 'train'" in out[1]["errors"][0]
    assert "'path'" in out[2]["errors"][0]
    assert "Lambda" in out[3]["errors"][0]


@pytest.mark.parametrize(
    "content",
    ['{"step_type": "Training", "path": "properties.X"}\nnot json\n', "[1, 2]\n"],
)
def test_unreadable_jsonl_exits_two_with_nothing_on_stdout(
    tmp_path: Path, content: str, check_paths
) -> None:
    bad = tmp_path / "rows.jsonl"
    bad.write_text(content)
    result = check_paths("--jsonl", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "rows.jsonl line" in result.stderr


def test_missing_jsonl_file_exits_two(check_paths) -> None:
    result = check_paths("--jsonl", "/nonexistent/rows.jsonl")
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_usage_errors_exit_two(check_paths) -> None:
    assert check_paths().exit_code == 2
    assert check_paths("--step-type", "Training").exit_code == 2
    assert check_paths("--jsonl", str(FIXTURE), "--step-type", "Training").exit_code == 2
    assert check_paths("--step-type", "Lambda", "properties.X").exit_code == 2  # click's Choice


def test_console_script_runs_the_jsonl_form(smsim_process) -> None:
    rows = '{"step_type": "CreateModel", "path": "properties.ModelName"}\n'
    done = smsim_process("paths", "check", "--jsonl", "-", input=rows)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True
