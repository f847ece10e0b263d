"""`smsim jobs list|describe` read the workspace a LocalSageMaker wrote."""

from __future__ import annotations

import json

from click.testing import CliRunner

from simulator.cli import main


def test_jobs_list_and_describe(sm, upload_code, training_request):
    code = upload_code({"train.py": "import sys\nprint('bye')\nsys.exit(2)\n"})
    sm.create_training_job(**training_request("listed-fail", code))
    sm.wait_for_training_job("listed-fail", timeout=60)
    code = upload_code({"train.py": "print('ok')\n"}, key="ok/sourcedir.tar.gz")
    sm.create_training_job(**training_request("listed-ok", code))
    sm.wait_for_training_job("listed-ok", timeout=60)
    ws = str(sm.workspace)
    runner = CliRunner()

    result = runner.invoke(main, ["jobs", "list", "--workspace", ws, "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["jobs"]}
    assert rows["listed-ok"]["status"] == "Completed"
    assert rows["listed-fail"]["status"] == "Failed"
    assert "ExitCode 2" in rows["listed-fail"]["failure_reason"]

    result = runner.invoke(main, ["jobs", "list", "--workspace", ws])
    assert result.exit_code == 0 and "listed-ok" in result.output

    result = runner.invoke(main, ["jobs", "describe", "listed-ok", "--workspace", ws, "--json"])
    assert result.exit_code == 0
    desc = json.loads(result.output)
    assert desc == json.loads((sm.workspace / "jobs/listed-ok/describe.json").read_text())
    assert desc["TrainingJobStatus"] == "Completed"
    # By any case of its name, as the service looks names up (ARNs are lower case).
    result = runner.invoke(main, ["jobs", "describe", "LISTED-OK", "--workspace", ws, "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == desc

    result = runner.invoke(main, ["jobs", "describe", "nope", "--workspace", ws])
    assert result.exit_code == 2
    assert "no job 'nope'" in result.output and "listed-ok" in result.output


def test_jobs_commands_explain_a_missing_workspace_or_job(tmp_path):
    runner = CliRunner()
    missing = str(tmp_path / "nowhere")
    for args in (["jobs", "list"], ["jobs", "describe", "x"]):
        result = runner.invoke(main, [*args, "--workspace", missing])
        assert result.exit_code == 2
        assert "no workspace at" in result.output and "--workspace" in result.output
        result = runner.invoke(main, [*args, "--workspace", missing, "--json"])
        assert result.exit_code == 2
        assert "no workspace at" in json.loads(result.output)["error"]
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        main, ["jobs", "describe", "x", "--workspace", str(tmp_path / "empty"), "--json"]
    )
    assert result.exit_code == 2
    assert json.loads(result.output)["error"].startswith("no job 'x'")
