"""`smsim train`: the real CLI, the real train.py, tiny data."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

TRAIN = ["train", "--spec", "pytorch_training"]


def test_smsim_train_runs_the_spec_and_resolves_its_outputs(tmp_path, tiny_bsm_data, smsim_process):
    hps = tmp_path / "hps.json"
    hps.write_text(json.dumps({"max_epochs": 2, "model_class": "multimodal_cnn", "lr": 0.01}))
    workspace = tmp_path / "ws"
    proc = smsim_process(
        *TRAIN,
        "--input",
        f"input_path={tiny_bsm_data['dir']}",
        "--hyperparameters",
        hps,
        "--job-name",
        "cli-train",
        "--checkpoint-s3-uri",
        "s3://cli-bucket/ckpt",
        "--max-runtime",
        "600",
        "--workspace",
        workspace,
        "--json",
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    job = doc["job"]
    assert job["TrainingJobStatus"] == "Completed"
    # Hyperparameters JSON-encoded as the SDK does; code and program set.
    assert job["HyperParameters"]["model_class"] == '"multimodal_cnn"'
    assert job["HyperParameters"]["max_epochs"] == "2"
    assert job["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train", "val", "test"]
    # Each output as `smsim demo --json` reports it: its property path and its value.
    assert doc["outputs"]["model_output"]["property_path"] == (
        "properties.ModelArtifacts.S3ModelArtifacts"
    )
    outputs = {name: entry["value"] for name, entry in doc["outputs"].items()}
    assert outputs["model_output"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert outputs["model_output"].endswith("/cli-train/output/model.tar.gz")
    assert outputs["checkpoints"] == "s3://cli-bucket/ckpt"
    assert outputs["training_job_name"] == "cli-train"
    names = {m["MetricName"] for m in outputs["metrics_output"]}
    assert names == {"train:loss", "val:loss", "val:auroc", "val:f1"}
    # Live logs went to stderr, prefixed; the workspace keeps the job.
    assert "[cli-train/algo-1] epoch=2" in proc.stderr
    assert (workspace / "jobs" / "cli-train" / "describe.json").is_file()

    listed = smsim_process("jobs", "list", "--workspace", workspace, "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)["jobs"]
    assert [(r["name"], r["status"]) for r in rows] == [("cli-train", "Completed")]


def test_smsim_train_refuses_bad_arguments(tmp_path, cli):
    result = cli("train", "--spec", "no_such_spec", "--input", "input_path=x")
    assert result.exit_code == 2
    assert "no spec 'no_such_spec'" in result.output
    result = cli(*TRAIN, "--input", "bogus=x", "--workspace", tmp_path / "ws")
    assert result.exit_code == 2
    assert "'bogus' is not a dependency of PyTorchTraining" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(*TRAIN, "--input", f"input_path={empty}", "--workspace", tmp_path / "ws")
    assert result.exit_code == 2
    assert "no train, val/ subfolder" in result.output


def test_smsim_train_explains_each_bad_argument(tmp_path, cli):
    """Each user mistake: exit 2, no traceback, the option, the value and the fix named;
    with --json, one JSON document holding the error."""
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "val").mkdir()
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    base = [*TRAIN, "--workspace", tmp_path / "ws"]
    cases = [
        (
            ["--input", f"input_path={data}", "--hyperparameters", str(tmp_path / "nope.json")],
            ["--hyperparameters", "nope.json", "does not exist"],
        ),
        (
            ["--input", f"input_path={data}", "--hyperparameters", str(listed)],
            ["--hyperparameters", "holds a JSON list", "write a JSON object"],
        ),
        (
            ["--input", f"input_path={tmp_path / 'missing'}"],
            ["--input", "missing", "train/ and val/"],
        ),
        (
            ["--input", f"input_path={data}", "--job-name", "bad_name"],
            ["--job-name", "'bad_name'", "letters, digits and hyphens"],
        ),
        (["--input", f"input_path={data}", "--max-runtime", "0"], ["--max-runtime", "0", "x>=1"]),
        (
            ["--input", f"input_path={data}", "--output-path", "http://x"],
            ["--output-path", "'http://x'", "s3://<bucket>"],
        ),
        (
            ["--input", "input_path=s3://no-data-bucket/prefix"],
            ["--input", "s3://no-data-bucket/prefix/train/", "give a local directory"],
        ),
    ]
    for args, needles in cases:
        result = cli(*base, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        text = " ".join(result.output.split())
        for needle in needles:
            assert needle in text, (args, needle, result.output)
    result = cli(*base, "--input", f"input_path={data}", "--job-name", "a_b", "--json")
    assert result.exit_code == 2
    assert "--job-name" in json.loads(result.output)["error"]


def test_ctrl_c_twice_stops_the_job_and_leaves_no_script_behind(tmp_path, smsim_path):
    """The first Ctrl-C stops the job (SIGTERM, grace period); a second one, while a
    script deaf to SIGTERM holds that grace period, kills it: nothing outlives `smsim
    train` (the script runs in its own session, so the terminal's SIGINT misses it)."""
    import re
    import signal
    import time

    from simulator.datasets import write_dataset

    data = write_dataset(tmp_path / "data", rows=20, seed=1)
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('pid', os.getpid(), flush=True)\n"
        "time.sleep(120)\n"
    )
    err = tmp_path / "err.txt"
    with open(err, "w") as err_file:
        proc = subprocess.Popen(
            [
                smsim_path,
                *TRAIN,
                "--input",
                f"input_path={data['dir']}",
                "--source-dir",
                str(src),
                "--job-name",
                "ctrl-c",
                "--workspace",
                str(tmp_path / "ws"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            cwd=tmp_path,
            # A terminal's SIGINT reaches the CLI even where the test runner ignores it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 60
            while not (found := re.search(r"\] pid (\d+)", err.read_text())):
                assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
                time.sleep(0.1)
            script = int(found.group(1))
            proc.send_signal(signal.SIGINT)
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) != 0
        finally:
            if proc.poll() is None:
                proc.kill()
    time.sleep(0.2)
    assert (
        not Path(f"/proc/{script}").exists()
        or "Z" in Path(f"/proc/{script}/stat").read_text().split(") ", 1)[1][:1]
    ), f"script {script} outlived smsim train"
    desc = json.loads((tmp_path / "ws" / "jobs" / "ctrl-c" / "describe.json").read_text())
    assert desc["TrainingJobStatus"] == "Stopped", err.read_text()[-2000:]
