"""Training jobs whose programs use the container's /opt/ml paths directly (#11).

Each runs once per container mode (``container_mode``): in a mount namespace the host
tree is /opt/ml; in fallback mode smsim rewrites and remaps. Both must give the user
the same job.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

# The job command of an SDK v3 ModelTrainer (sagemaker.modules.train.model_trainer):
# ContainerEntrypoint ["/bin/bash"], ContainerArguments ["-c", V3_COMMAND].
V3_COMMAND = (
    "chmod +x /opt/ml/input/data/sm_drivers/sm_train.sh "
    "&& /opt/ml/input/data/sm_drivers/sm_train.sh"
)

# A train.sh that reads its hyperparameters with plain shell tools, as a bash user would.
TRAIN_SH = r"""#!/bin/sh
set -e
epochs=$(sed -n 's/.*"epochs": *"\([0-9]*\)".*/\1/p' /opt/ml/input/config/hyperparameters.json)
rows=$(cat /opt/ml/input/data/train/*.csv | wc -l)
echo "epochs=$epochs rows=$rows"
printf '%s %s\n' "$epochs" "$rows" > /opt/ml/model/summary.txt
"""

# pyarrow opens the parquet file itself (C++), by a hard-coded container path.
PARQUET_PY = r"""
import os
import pyarrow.parquet as pq
table = pq.read_table("/opt/ml/input/data/train/part-0.parquet")
total = sum(table.column("x").to_pylist())
print(f"total={total}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "total.txt"), "w") as f:
    f.write(str(total))
"""

FAILING_PY = r"""
def load():
    raise ValueError("the label column 'y' is missing")
load()
"""

# Staged as the sm_drivers channel, in the shape of the SDK v3 sm_train.sh template:
# plain shell over /opt/ml, a failure file on error, then a Python driver.
SM_TRAIN_SH = r"""
#!/bin/bash
set -e
handle_error() {
    EXIT_STATUS=$?
    if [ ! -s /opt/ml/output/failure ]; then
        echo "Training Execution failed (sm_train.sh)" >> /opt/ml/output/failure
    fi
    exit $EXIT_STATUS
}
trap 'handle_error' ERR
SM_PYTHON_CMD=$(command -v python3 || command -v python)
echo "/opt/ml/input/config/resourceconfig.json:"
cat /opt/ml/input/config/resourceconfig.json
echo
cd /opt/ml/input/data/code
$SM_PYTHON_CMD /opt/ml/input/data/sm_drivers/driver.py
"""
DRIVER_PY = r"""
import json, runpy, sys
hps = json.load(open("/opt/ml/input/config/hyperparameters.json"))
sys.argv = ["train.py", "--lr", hps["lr"]]
runpy.run_path("/opt/ml/input/data/code/train.py", run_name="__main__")
"""
V3_TRAIN_PY = r"""
import sys
open("/opt/ml/model/lr.txt", "w").write(sys.argv[2])
print("trained with lr", sys.argv[2])
"""


def model_files(sm: Any, bucket: str, name: str) -> dict[str, bytes]:
    key = f"output/{name}/output/model.tar.gz"
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_shell_entry_point_reads_hyperparameters_json(
    sm, run_training, bucket, put_s3, upload_code, training_request, container_mode
):
    put_s3("sh/train/a.csv", "1\n2\n3\n")
    code = upload_code({"train.sh": TRAIN_SH}, key="sh/code/sourcedir.tar.gz")
    request = training_request(
        "sh-hps",
        code,
        program="train.sh",
        hyperparameters={"epochs": 7},
        channels={"train": f"s3://{bucket}/sh/train"},
    )
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert model_files(sm, bucket, "sh-hps")["summary.txt"] == b"7 3\n"


def test_pyarrow_reads_parquet_by_its_opt_ml_path(
    sm, run_training, bucket, put_s3, upload_code, training_request, container_mode
):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": [1.5, 2.5, 4.0]}), buf)
    put_s3("pq/train/part-0.parquet", buf.getvalue())
    code = upload_code({"train.py": PARQUET_PY}, key="pq/code/sourcedir.tar.gz")
    request = training_request("pq-job", code, channels={"train": f"s3://{bucket}/pq/train"})
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert model_files(sm, bucket, "pq-job")["total.txt"] == b"8.0"


def test_failure_reason_shows_the_container_path(
    sm, run_training, bucket, upload_code, training_request, container_mode
):
    code = upload_code({"train.py": FAILING_PY}, key="fail/code/sourcedir.tar.gz")
    desc = run_training(training_request("fail-trace", code))
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert "ValueError: the label column 'y' is missing" in reason
    assert "ExitCode 1" in reason
    if container_mode == "namespace":
        # As on the service: the traceback names the script where the container has it.
        assert 'File "/opt/ml/code/train.py", line 3' in reason
    else:
        assert "hosts/algo-1/code/train.py" in reason


def v3_request(
    training_request: Any, bucket: str, name: str, prefix: str, hyperparameters: dict[str, str]
) -> dict[str, Any]:
    """A CreateTrainingJob request as v3's ModelTrainer sends it: the code and sm_drivers
    channels under ``prefix``, sm_train.sh run by bash, hyperparameters as plain strings."""
    request = training_request(
        name,
        "unused",
        channels={
            "code": f"s3://{bucket}/{prefix}/code",
            "sm_drivers": f"s3://{bucket}/{prefix}/sm_drivers",
        },
    )
    request["HyperParameters"] = hyperparameters
    request["AlgorithmSpecification"] = {
        "TrainingImage": "img",
        "TrainingInputMode": "File",
        "ContainerEntrypoint": ["/bin/bash"],
        "ContainerArguments": ["-c", V3_COMMAND],
    }
    return request


def test_v3_model_trainer_command_runs_a_staged_sm_train_sh(
    sm, run_training, bucket, put_s3, training_request, container_mode, log_lines
):
    put_s3("v3/sm_drivers/sm_train.sh", SM_TRAIN_SH)
    put_s3("v3/sm_drivers/driver.py", DRIVER_PY)
    put_s3("v3/code/train.py", V3_TRAIN_PY)
    request = v3_request(training_request, bucket, "v3-job", "v3", {"lr": "0.25"})
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert model_files(sm, bucket, "v3-job")["lr.txt"] == b"0.25"
    text = "\n".join(log_lines.lines)
    assert '"current_host": "algo-1"' in text  # cat of /opt/ml/input/config/... worked
    assert "trained with lr 0.25" in text
    if container_mode == "fallback":
        assert "fallback: /opt/ml rewritten in input/data/sm_drivers/sm_train.sh" in text


def test_v3_sm_train_sh_failure_file_becomes_the_failure_reason(
    sm, run_training, bucket, put_s3, training_request, container_mode
):
    put_s3("v3f/sm_drivers/sm_train.sh", SM_TRAIN_SH)
    put_s3("v3f/sm_drivers/driver.py", "raise SystemExit(4)\n")
    put_s3("v3f/code/train.py", "")
    request = v3_request(training_request, bucket, "v3-fail", "v3f", {})
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == "Training Execution failed (sm_train.sh)"


def test_sm_variables_are_the_containers_in_namespace_mode(
    sm, run_training, bucket, upload_code, training_request, container_mode
):
    script = (
        "import json, os\n"
        "keys = ['SM_MODEL_DIR', 'SM_OUTPUT_DATA_DIR', 'SM_INPUT_CONFIG_DIR',\n"
        "        'SM_CHECKPOINT_DIR']\n"
        "env = {k: os.environ.get(k) for k in keys}\n"
        "env['cwd'] = os.getcwd()\n"
        "json.dump(env, open(os.path.join(os.environ['SM_MODEL_DIR'], 'env.json'), 'w'))\n"
    )
    code = upload_code({"train.py": script}, key="envs/code/sourcedir.tar.gz")
    request = training_request(
        "env-paths",
        code,
        CheckpointConfig={"S3Uri": f"s3://{bucket}/ckpt/env-paths"},
    )
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    env = json.loads(model_files(sm, bucket, "env-paths")["env.json"])
    root = (
        "/opt/ml"
        if container_mode == "namespace"
        else str(sm.workspace / "jobs" / "env-paths" / "hosts" / "algo-1")
    )
    assert env == {
        "SM_MODEL_DIR": f"{root}/model",
        "SM_OUTPUT_DATA_DIR": f"{root}/output/data",
        "SM_INPUT_CONFIG_DIR": f"{root}/input/config",
        "SM_CHECKPOINT_DIR": f"{root}/checkpoints",
        "cwd": f"{root}/code",
    }


def test_an_unknown_container_mode_fails_the_job_by_name(
    sm, run_training, upload_code, training_request, monkeypatch
):
    monkeypatch.setenv("SMSIM_CONTAINER_MODE", "container")
    code = upload_code({"train.py": "print('never runs')\n"}, key="mode/code/sourcedir.tar.gz")
    desc = run_training(training_request("bad-mode", code), timeout=60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: ")
    assert "$SMSIM_CONTAINER_MODE" in desc["FailureReason"]
    assert "'container'" in desc["FailureReason"] and "fallback" in desc["FailureReason"]


def test_the_container_mode_argument_is_checked_at_construction(tmp_path):
    from simulator import LocalSageMaker
    from simulator.errors import ValidationError

    with pytest.raises(ValidationError, match="container_mode argument.*'docker'"):
        LocalSageMaker(workspace=tmp_path / "ws", container_mode="docker")
