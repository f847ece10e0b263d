"""Processing inputs with the channels' rules (#13 req. 6): ShardedByS3Key, Pipe, manifests."""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.support import processing_input, processing_request

# Lists what the job received at the input's LocalPath: files (File mode) or the
# epoch-0 FIFO <LocalPath>_0 (Pipe mode).
PROCESS = """
import json, os, stat, time
local = "/opt/ml/processing/input/data"
out = "/opt/ml/processing/output/seen"
os.makedirs(out, exist_ok=True)
if os.path.isdir(local):
    seen = {os.path.relpath(os.path.join(d, f), local): open(os.path.join(d, f)).read()
            for d, _, fs in os.walk(local) for f in fs}
else:
    path = local + "_0"
    for _ in range(1200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    assert stat.S_ISFIFO(os.stat(path).st_mode), path
    seen = {"<pipe epoch 0>": open(path).read()}
json.dump(seen, open(os.path.join(out, "seen.json"), "w"))
"""


def _request(name: str, bucket: str, code: str, data: str, **s3_input: Any) -> dict[str, Any]:
    return processing_request(
        name,
        ["python3", "/opt/ml/processing/input/code/process.py"],
        inputs=[
            # File mode unless the test asks for another.
            processing_input(
                "data", data, "/opt/ml/processing/input/data", **{"S3InputMode": "File", **s3_input}
            ),
            processing_input("code", code, "/opt/ml/processing/input/code"),
        ],
        outputs={"seen": (f"s3://{bucket}/{name}/seen", "/opt/ml/processing/output/seen")},
        volume_gb=5,
    )


def _run(sm: Any, bucket: str, request: dict[str, Any]) -> Any:
    sm.create_processing_job(**request)
    name = request["ProcessingJobName"]
    desc = sm.wait_for_processing_job(name, timeout=120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    body = sm.s3.get_object(Bucket=bucket, Key=f"{name}/seen/seen.json")["Body"].read()
    return json.loads(body)


def test_sharded_input_on_one_host_gets_every_object(sm: Any, bucket: str, put_s3: Any) -> None:
    code = put_s3("ps/code/process.py", PROCESS)
    for i in range(7):
        put_s3(f"ps/data/part-{i}.csv", f"{i}\n")
    request = _request(
        "proc-sharded",
        bucket,
        code,
        f"s3://{bucket}/ps/data",
        S3DataDistributionType="ShardedByS3Key",
    )
    seen = _run(sm, bucket, request)
    assert seen == {f"part-{i}.csv": f"{i}\n" for i in range(7)}


def test_pipe_input_streams_gzip_objects_through_a_fifo(
    sm: Any, bucket: str, put_s3: Any, container_mode: str
) -> None:
    code = put_s3("pp/code/process.py", PROCESS)
    put_s3("pp/data/b.gz", gzip.compress(b"b\n"))
    put_s3("pp/data/a.gz", gzip.compress(b"a\n"))
    request = _request(
        "proc-pipe",
        bucket,
        code,
        f"s3://{bucket}/pp/data/",
        S3InputMode="Pipe",
        S3CompressionType="Gzip",
    )
    assert _run(sm, bucket, request) == {"<pipe epoch 0>": "a\nb\n"}


def test_manifest_input_stages_the_listed_objects(sm: Any, bucket: str, put_s3: Any) -> None:
    code = put_s3("pm/code/process.py", PROCESS)
    put_s3("pm/data/keep/x.csv", "x\n")
    put_s3("pm/data/skip.csv", "no\n")
    put_s3("pm/list.manifest", json.dumps([{"prefix": f"s3://{bucket}/pm/data/"}, "keep/x.csv"]))
    request = _request(
        "proc-manifest", bucket, code, f"s3://{bucket}/pm/list.manifest", S3DataType="ManifestFile"
    )
    assert _run(sm, bucket, request) == {"keep/x.csv": "x\n"}
