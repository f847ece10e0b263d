"""Ctrl-C of the CLI (#17, requirement 5): `smsim train`, `smsim pipeline run` and
`smsim serve` stop what they started, print each job and execution with its final
status, exit 130; a second Ctrl-C kills at once and the records still end Stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psutil
import pytest

from tests.support import TRAINING_IMAGE as IMAGE
from tests.support import sourcedir_tar, training_request

SMSIM = str(Path(sys.executable).parent / "smsim")
WAIT = 120.0  # bound on a start on a loaded machine; not a timing assertion

# Writes its pid, then waits for ever; "--stubborn 1" ignores SIGTERM (a stop must kill it).
SCRIPT = """
import os, signal, sys, time
args = sys.argv[1:]
options = dict(zip(args[::2], args[1::2]))
if options.get("--stubborn") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
path = options.get("--pid_file") or os.environ["PID_FILE"]
with open(path + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.replace(path + ".tmp", path)
print("waiting for Ctrl-C", flush=True)
while True:
    time.sleep(0.2)
"""


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _kill_leftovers():
    """A failed test leaves no command running (the assertions say what should end)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    # The default SIGINT disposition, as in a terminal (a background job of a
    # non-interactive shell would inherit it ignored; the CLI copes with that too).
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        restore_signals=True,
    )
    _STARTED.append(proc)
    return proc


def wait_for(predicate, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the command exited with {proc.returncode} before {what}")
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {WAIT:.0f} s")


def table_row(err: str, *parts: str) -> str:
    """The row of the report's table naming ``parts``."""
    return next(line for line in err.splitlines() if "│" in line and all(p in line for p in parts))


def script_process(pid_file: Path, proc: subprocess.Popen) -> psutil.Process:
    wait_for(pid_file.is_file, proc, "job script start")
    return psutil.Process(int(pid_file.read_text()))


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    data = tmp_path / "data"
    for channel in ("train", "val"):
        (data / channel).mkdir(parents=True)
        (data / channel / "rows.csv").write_text("1,2\n")
    return {"source": source, "data": data, "ws": tmp_path / "ws", "pid": tmp_path / "pid"}


def train(project: dict[str, Path], tmp_path: Path, stubborn: bool) -> subprocess.Popen:
    hps = tmp_path / "hps.json"
    hps.write_text(json.dumps({"pid_file": str(project["pid"]), "stubborn": int(stubborn)}))
    argv = [SMSIM, "train", "--spec", "pytorch_training", "--job-name", "ctrl-c"]
    argv += ["--input", f"input_path={project['data']}", "--source-dir", str(project["source"])]
    argv += ["--hyperparameters", str(hps), "--workspace", str(project["ws"])]
    return start(argv, tmp_path / "stderr.log")


def test_ctrl_c_of_smsim_train_stops_the_job_and_reports_it(tmp_path, project):
    proc = train(project, tmp_path, stubborn=False)
    script = script_process(project["pid"], proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) == 130
    err = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in err and "Aborted" not in err
    row = table_row(err, "training", "ctrl-c")
    assert "Stopped" in row
    describe = json.loads((project["ws"] / "jobs" / "ctrl-c" / "describe.json").read_text())
    assert describe["TrainingJobStatus"] == "Stopped"
    assert psutil.wait_procs([script], timeout=10)[1] == []


def test_a_second_ctrl_c_kills_at_once_and_the_job_still_ends_stopped(tmp_path, project):
    proc = train(project, tmp_path, stubborn=True)  # ignores SIGTERM: the stop would wait 120 s
    script = script_process(project["pid"], proc)
    log = tmp_path / "stderr.log"
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: "Ctrl-C again to kill" in log.read_text(), proc, "the first Ctrl-C's notice")
    assert script.is_running()  # SIGTERM ignored: the grace period runs
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130  # well inside the 120 s grace period: killed, not waited for
    err = log.read_text()
    assert "killed at once" in err and "Traceback" not in err
    row = table_row(err, "training", "ctrl-c")
    assert "Stopped" in row
    describe = json.loads((project["ws"] / "jobs" / "ctrl-c" / "describe.json").read_text())
    assert describe["TrainingJobStatus"] == "Stopped"
    assert describe["SecondaryStatus"] == "Stopped"
    assert psutil.wait_procs([script], timeout=10)[1] == []


def _script_job(name: str | None, environment: dict[str, str] | None = None, **hps: str):
    """CreateTrainingJob arguments running SCRIPT from the ctrl-c bucket for up to an hour
    (``hps``: more HyperParameters); no name: a pipeline step's Arguments."""
    hyperparameters = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://ctrl-c/code/sourcedir.tar.gz"',
        **hps,
    }
    resources = {"volume_gb": 1, "max_runtime": 3600}
    request = training_request(
        name or "", IMAGE, hyperparameters, None, "s3://ctrl-c/output", resources=resources
    )
    if environment:
        request["Environment"] = environment
    if name is None:
        del request["TrainingJobName"]
    return request


def test_ctrl_c_of_smsim_pipeline_run_stops_the_execution_and_its_job(tmp_path, project):
    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": _script_job(None, pid_file=json.dumps(str(project["pid"]))),
            }
        ],
    }
    path = tmp_path / "interrupted.json"
    path.write_text(json.dumps(definition))
    argv = [SMSIM, "pipeline", "run", str(path), "--workspace", str(project["ws"]), "--json"]
    argv += ["--upload", f"{project['source']}=s3://ctrl-c/code/sourcedir.tar.gz"]
    proc = start(argv, tmp_path / "stderr.log")
    script = script_process(project["pid"], proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) == 130
    err = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in err
    execution_row = table_row(err, "pipeline execution")
    assert "interrupted/" in execution_row and "Stopped" in execution_row
    job_row = table_row(err, "training", "pipelines-")
    assert "Stopped" in job_row
    document = json.loads(proc.stdout.read())  # --json: stdout is one document still
    assert document["error"] == "interrupted (Ctrl-C)"
    assert {(r["kind"], r["status"]) for r in document["stopped"]} == {
        ("pipeline execution", "Stopped"),
        ("training", "Stopped"),
    }
    (execution,) = (project["ws"] / "pipelines" / "interrupted" / "executions").iterdir()
    desc = json.loads((execution / "execution.json").read_text())
    assert desc["PipelineExecutionStatus"] == "Stopped"
    steps = json.loads((execution / "steps.json").read_text())["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Train", "Stopped")]
    assert psutil.wait_procs([script], timeout=10)[1] == []


def test_ctrl_c_of_smsim_serve_stops_its_jobs_and_reports_them(tmp_path, project):
    log = tmp_path / "stderr.log"
    argv = [SMSIM, "serve", "--port", "0", "--workspace", str(project["ws"]), "--json"]
    proc = start(argv, log, {"AWS_CONFIG_FILE": os.devnull})
    text = ""
    while not text.endswith("\n}\n"):  # the --json banner: one indented document
        line = proc.stdout.readline()
        assert line, f"smsim serve exited: {log.read_text()[-2000:]}"
        text += line
    banner = json.loads(text)
    env = banner["env"]
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    s3 = session.client("s3", endpoint_url=banner["endpoint_url"])
    sm = session.client("sagemaker", endpoint_url=banner["endpoint_url"])
    s3.create_bucket(Bucket="ctrl-c")
    code = sourcedir_tar({"train.py": SCRIPT})
    s3.put_object(Bucket="ctrl-c", Key="code/sourcedir.tar.gz", Body=code)
    sm.create_training_job(**_script_job("served", {"PID_FILE": str(project["pid"])}))
    script = script_process(project["pid"], proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) == 130
    err = log.read_text()
    row = table_row(err, "training", "served")
    assert "Stopped" in row and "Traceback" not in err
    describe = json.loads((project["ws"] / "jobs" / "served" / "describe.json").read_text())
    assert describe["TrainingJobStatus"] == "Stopped"
    assert psutil.wait_procs([script], timeout=10)[1] == []


def _running_job(ws: Path) -> bool:
    for describe in ws.glob("*jobs/*/describe.json"):
        try:
            doc = json.loads(describe.read_text())
        except ValueError:
            continue  # being replaced
        if "InProgress" in (doc.get("TrainingJobStatus"), doc.get("ProcessingJobStatus")):
            return True
    return False


def test_ctrl_c_of_smsim_demo_stops_its_execution(tmp_path):
    ws = tmp_path / "ws"
    log = tmp_path / "stderr.log"
    proc = start([SMSIM, "demo", "--workspace", str(ws), "--rows", "200"], log)
    wait_for(lambda: _running_job(ws), proc, "the demo's first job")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) == 130
    err = log.read_text()
    assert "Traceback" not in err
    assert "Stopped" in table_row(err, "pipeline execution")
    (execution,) = ws.glob("pipelines/*/executions/*")
    assert json.loads((execution / "execution.json").read_text())["PipelineExecutionStatus"] == (
        "Stopped"
    )
    statuses = [
        json.loads(d.read_text()) for d in ws.glob("*jobs/*/describe.json")
    ]  # every job the demo started has ended
    assert statuses and all(
        (d.get("TrainingJobStatus") or d.get("ProcessingJobStatus")) in ("Completed", "Stopped")
        for d in statuses
    )
