"""Processing jobs on several instances (#13): ClusterConfig.InstanceCount N → hosts
algo-1 … algo-N, each with its own /opt/ml, inputs and process; every host's outputs
end up under each output's S3Uri."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.support import processing_input, processing_request

SCRIPT = r"""
import json, os, sys, time
base = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
rc = json.load(open(os.path.join(base, "config", "resourceconfig.json")))
job = json.load(open(os.path.join(base, "config", "processingjobconfig.json")))
host = rc["current_host"]
rows = open(os.path.join(base, "processing", "input", "data", "rows.csv")).read().split()
out = os.path.join(base, "processing", "output")
with open(os.path.join(out, host + ".json"), "w") as f:
    json.dump({"resourceconfig": rc, "rows": rows, "job": job["ProcessingJobName"],
               "pid": os.getpid()}, f)
with open(os.path.join(out, "last.txt"), "w") as f:
    f.write(host)
shared = os.environ.get("SHARED")
if shared and os.environ["FAIL_ON"] == host:
    while not os.path.exists(os.path.join(shared, "algo-1.pid")):  # algo-1 is running
        time.sleep(0.05)
    os.makedirs(os.path.join(base, "output"), exist_ok=True)
    with open(os.path.join(base, "output", "message"), "w") as f:
        f.write("shard of " + host + " is corrupt")
    sys.exit(5)
if shared:
    with open(os.path.join(shared, host + ".pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)  # the other host waits: the failing one must stop it
"""


def _request(name: str, bucket: str, count: int, **extra: Any) -> dict[str, Any]:
    full = {"S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}
    return processing_request(
        name,
        ["python3", "/opt/ml/processing/input/code/process.py"],
        inputs=[
            processing_input(
                name_, f"s3://{bucket}/{key}", f"/opt/ml/processing/input/{name_}", **full
            )
            for name_, key in (("data", "in/data"), ("code", "in/code"))
        ],
        outputs={"result": (f"s3://{bucket}/results/{name}", "/opt/ml/processing/output")},
        max_runtime=600,
        instance_count=count,
        volume_gb=5,
        **extra,
    )


def _stage(sm: Any, bucket: str) -> None:
    sm.s3.put_object(Bucket=bucket, Key="in/data/rows.csv", Body=b"a\nb\nc\n")
    sm.s3.put_object(Bucket=bucket, Key="in/code/process.py", Body=SCRIPT.encode())


def _results(sm: Any, bucket: str, name: str) -> dict[str, bytes]:
    prefix = f"results/{name}/"
    listing = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"][len(prefix) :]: sm.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in listing
    }


def test_two_host_processing_job_runs_every_host_and_uploads_all_outputs(sm, bucket):
    _stage(sm, bucket)
    sm.create_processing_job(**_request("proc-2", bucket, 2))
    desc = sm.wait_for_processing_job("proc-2", timeout=120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    results = _results(sm, bucket, "proc-2")
    assert sorted(results) == ["algo-1.json", "algo-2.json", "last.txt"]
    for host in ("algo-1", "algo-2"):
        seen = json.loads(results[f"{host}.json"])
        assert seen["resourceconfig"]["current_host"] == host
        assert seen["resourceconfig"]["hosts"] == ["algo-1", "algo-2"]
        assert seen["rows"] == ["a", "b", "c"]  # FullyReplicated: every host has all rows
        assert seen["job"] == "proc-2"
    # Each instance uploads its own outputs to the same prefix: the last host's copy of a
    # key both wrote is what stays.
    assert results["last.txt"] == b"algo-2"


def test_a_failing_host_fails_the_processing_job_and_stops_the_other(tmp_path, sm, bucket):
    _stage(sm, bucket)
    env = {"FAIL_ON": "algo-2", "SHARED": str(tmp_path)}
    sm.create_processing_job(**_request("proc-fail", bucket, 2, Environment=env))
    desc = sm.wait_for_processing_job("proc-fail", timeout=120)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["FailureReason"] == (
        "AlgorithmError: See job logs for more information (exit code 5) (algo-2)"
    )
    assert desc["ExitMessage"] == "shard of algo-2 is corrupt"
    results = _results(sm, bucket, "proc-fail")
    # Outputs are uploaded for a failed job too, from every host.
    assert {"algo-1.json", "algo-2.json"} <= set(results)
    pid = int((tmp_path / "algo-1.pid").read_text())
    assert json.loads(results["algo-1.json"])["pid"] == pid
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "algo-1 kept running after algo-2 failed the job"
