"""`smsim serve --backend ray` (#19): plain boto3 from another process, the job's host on a
node of the Ray test cluster (``ray_cluster``: a head and 2 workers on loopback)."""

from __future__ import annotations

import boto3

BUCKET = "serve-ray-bucket"
TRAIN = """
import os
for epoch in range(3):
    print(f"epoch={epoch} loss={1 / (epoch + 1)}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write(os.environ["SM_CURRENT_HOST"])
"""


def test_smsim_serve_runs_a_boto3_job_on_a_ray_node(serve, client_env, kit, ray_cluster):
    server = serve(None, "--backend", "ray", "--ray-address", ray_cluster.address)
    assert f"job hosts run on the Ray cluster at {ray_cluster.address}" in server.banner
    client_env(server)
    sm, s3 = boto3.client("sagemaker"), boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/c.tar.gz", Body=kit.sourcedir_tar({"train.py": TRAIN}))
    request = kit.training_request("serve-ray", f"s3://{BUCKET}/code/c.tar.gz", BUCKET)
    sm.create_training_job(**request)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="serve-ray", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    desc = sm.describe_training_job(TrainingJobName="serve-ray")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert [m["Value"] for m in desc["FinalMetricDataList"]] == [1 / 3]
    body = s3.get_object(Bucket=BUCKET, Key="output/serve-ray/output/model.tar.gz")["Body"]
    assert kit.read_tar(body.read()) == {"model.txt": b"algo-1"}
    log = server.log.read_text()
    workers = {w.node_id[:8] for w in ray_cluster.workers}
    (placed,) = [line for line in log.splitlines() if "[smsim] algo-1 on node " in line]
    assert placed.split(" on node ")[1].split()[0] in workers
    assert server.stop() == 130  # Ctrl-C: 128 + SIGINT, the Ray connection let go cleanly
