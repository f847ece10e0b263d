"""`smsim validate [PATH] [--json] [--strict]`: output for people and tools, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simulator.cli import output

CONTRACT = """
from contracts.base import ProcessingScriptContract

SPLIT_CONTRACT = ProcessingScriptContract(
    entry_point="split.py",
    expected_output_paths={"splits": "/opt/ml/processing/output/splits"},
    optional_env_vars={"SEED": "0"},
)
"""

SPEC = """
from contracts.split import SPLIT_CONTRACT
from specs.base import DependencyType, NodeType, OutputSpec, SageMakerStepType, StepSpecification

SPLIT_SPEC = StepSpecification(
    step_type="Split",
    sagemaker_step_type=SageMakerStepType.PROCESSING,
    node_type=NodeType.SOURCE,
    script_contract=SPLIT_CONTRACT,
    outputs=[
        OutputSpec(
            logical_name="splits",
            output_type=DependencyType.PROCESSING_OUTPUT,
            property_path="properties.ProcessingOutputConfig.Outputs['splits'].S3Output.S3Uri",
        )
    ],
)
"""

SCRIPT = """
import os
OUT = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "processing/output/splits")
SEED = int(os.environ.get("SEED", "0"))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in {
        "contracts/split.py": CONTRACT,
        "specs/split_spec.py": SPEC,
        "dockers/img/split.py": SCRIPT,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def validate(cli):
    """`smsim validate ARGS…`: (exit code, output)."""

    def run(*args: object) -> tuple[int, str]:
        result = cli("validate", *args, catch_exceptions=False)
        return result.exit_code, result.output

    return run


def test_our_own_steps_validate_clean(validate) -> None:
    code, out = validate("--json")
    data = json.loads(out)
    assert (code, data["ok"], data["error_count"], data["warning_count"]) == (0, True, 0, 0), [
        f["message"] for f in data["findings"]
    ]
    assert {"PyTorchTraining", "TabularPreprocessing", "ModelEvaluation"} <= set(data["steps"])
    # Level 3 shows how each dependency is wired, with the score breakdown.
    wired = data["wiring"]["ModelEvaluation"]["model_input"]["chosen"]
    assert (wired["step"], wired["output"]) == ("PyTorchTraining", "model_output")


def test_table_output_for_people(project: Path, validate) -> None:
    code, out = validate(str(project))
    assert code == 0
    assert "Split" in out and "1 step aligned: 0 errors, 0 warnings" in out


def test_errors_exit_1_with_location_and_fix(project: Path, validate) -> None:
    script = project / "dockers/img/split.py"
    script.write_text(script.read_text() + 'TOKEN = os.environ["HF_TOKEN"]\n')
    code, out = validate(str(project), "--json")
    data = json.loads(out)
    assert code == 1 and not data["ok"]
    [f] = data["findings"]
    assert f["level"] == 1 and f["severity"] == "error" and f["level_name"] == "script ↔ contract"
    assert f["location"].endswith("split.py:5") and "HF_TOKEN" in f["message"] and f["fix"]
    code, out = validate(str(project))
    assert code == 1 and "HF_TOKEN" in out and "1 error," in out


def test_strict_turns_warnings_into_errors(project: Path, validate) -> None:
    script = project / "dockers/img/split.py"
    script.write_text(script.read_text().replace('os.environ.get("SEED", "0")', '"0"'))
    code, out = validate(str(project), "--json")
    data = json.loads(out)
    assert code == 0 and data["warning_count"] == 1 and data["error_count"] == 0
    code, out = validate(str(project), "--json", "--strict")
    data = json.loads(out)
    assert code == 1 and data["error_count"] == 1
    assert data["findings"][0]["severity"] == "error"


@pytest.mark.parametrize("as_json", [False, True])
def test_a_project_that_cannot_be_read_exits_2(tmp_path: Path, as_json: bool, validate) -> None:
    args = [str(tmp_path)] + (["--json"] if as_json else [])
    code, out = validate(*args)
    assert code == 2
    if as_json:
        data = json.loads(out)
        assert data["ok"] is False and "contracts/ nor specs/" in data["error"]


def test_a_broken_project_reads_well_in_80_columns(project: Path, monkeypatch, validate) -> None:
    monkeypatch.setattr(output.console, "width", 80)
    script = project / "dockers/img/split.py"
    script.write_text(script.read_text() + 'TOKEN = os.environ["HF_TOKEN"]\n')
    spec = project / "specs/split_spec.py"
    spec.write_text(
        spec.read_text()
        .replace(".S3Output.S3Uri", ".S3Output.S3URI")
        .replace(
            "node_type=NodeType.SOURCE,",
            "node_type=NodeType.INTERNAL,\n    dependencies=[DependencySpec(logical_name="
            "'raw', dependency_type=DependencyType.TRAINING_DATA)],",
        )
        .replace("import DependencyType", "import DependencySpec, DependencyType")
    )
    code, out = validate(str(project))
    assert code == 1
    lines = [line.rstrip() for line in out.splitlines()]
    assert max(map(len, lines)) <= 80, "\n".join(line for line in lines if len(line) > 80)
    # Each finding: a head line with level, step and an unbroken file:line, then fix lines.
    head = next(i for i, line in enumerate(lines) if line.startswith("✗ error  L1  Split"))
    assert "split.py:5" in lines[head] + lines[head + 1] + lines[head + 2]  # tmp paths are long
    assert any(line.startswith("✗ error  L3  Split  ") for line in lines)
    # Level 4 offers the corrected path (wrapped here, so compare without line breaks).
    joined = "".join(line.strip() for line in lines)
    assert "fix: setproperty_path=\"properties.ProcessingOutputConfig.Outputs['splits']" in joined
    assert '.S3Output.S3Uri"' in joined
    # The summary row and the wiring of the unwired dependency, each on one line.
    assert any(line.split() == ["Split", "✗", "1", "!", "1", "✗", "1", "✗", "1"] for line in lines)
    assert any(line.strip().startswith("raw") and "no producer" in line for line in lines)
    assert out.rstrip().endswith("✗ 1 step checked: 3 errors, 1 warning")


def test_validate_loads_only_its_own_command() -> None:
    # Command modules load on use: `smsim validate` pays for neither pandas nor moto,
    # and a broken module elsewhere in the CLI cannot stop it.
    code = (
        "import sys\n"
        "from simulator.cli import main\n"
        "try:\n"
        "    main(['validate', '--json'])\n"
        "except SystemExit as exc:\n"
        "    rc = exc.code\n"
        "heavy = ['pandas', 'moto', 'torch', 'simulator.cli.data', 'simulator.cli.pipeline',\n"
        "         'simulator.cli.train', 'simulator.cli.jobs', 'simulator.cli.demo']\n"
        "print(rc, [m for m in heavy if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "0 []", done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_help_lists_every_command(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line]
    assert listed == ["validate", "paths", "data", "train", "jobs", "pipeline", "demo", "serve"]
