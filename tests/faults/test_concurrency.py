"""Jobs at once without cross-talk (#17): 8 training jobs of one simulator running together,
and 2 simulators on 2 workspaces at once, each job seeing only its own inputs, environment,
checkpoints, logs and outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

# Waits (at a barrier file) until the test saw every job Training, then writes what it saw.
SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    go = os.environ["SM_HP_GO"].strip('"')
    while not os.path.exists(go):
        time.sleep(0.05)
    channel = os.environ["SM_CHANNEL_TRAIN"]
    data = open(os.path.join(channel, "data.txt")).read()
    seen = {
        "job": os.environ["TRAINING_JOB_NAME"],
        "marker": json.loads(os.environ["SM_HPS"])["marker"],
        "data": data,
        "files": sorted(os.listdir(channel)),
        "checkpoints": sorted(os.listdir(os.environ["SM_CHECKPOINT_DIR"])),
    }
    open(os.path.join(os.environ["SM_CHECKPOINT_DIR"], seen["job"]), "w").write("mine")
    print("seen=" + json.dumps(seen, sort_keys=True), flush=True)
    open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w").write(json.dumps(seen))
    """
)


def _wait(condition, what: str, timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_eight_jobs_at_once_see_only_their_own(
    sm, bucket, put_s3, upload_code, training_request, read_tar, tmp_path
):
    code = upload_code({"train.py": SCRIPT})
    go = tmp_path / "go"
    names = [f"together-{i}" for i in range(8)]
    for i, name in enumerate(names):
        put_s3(f"data/{name}/data.txt", f"rows of {name}")
        request = training_request(
            name,
            code,
            hyperparameters={"marker": f"m{i}", "go": str(go)},
            channels={"train": f"s3://{bucket}/data/{name}/"},
        )
        request["CheckpointConfig"] = {"S3Uri": f"s3://{bucket}/checkpoints/{name}"}
        sm.create_training_job(**request)

    def all_training() -> bool:
        return all(
            sm.describe_training_job(TrainingJobName=n)["SecondaryStatus"] == "Training"
            for n in names
        )

    _wait(all_training, "all 8 jobs Training")  # all 8 entry points run at once
    go.touch()
    for i, name in enumerate(names):
        desc = sm.wait_for_training_job(name, timeout=180)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        seen = json.loads(read_tar(sm, bucket, f"output/{name}/output/model.tar.gz")["seen.json"])
        assert seen == {
            "job": name,
            "marker": f"m{i}",
            "data": f"rows of {name}",
            "files": ["data.txt"],
            "checkpoints": [],
        }
        keys = sm.s3.list_objects_v2(Bucket=bucket, Prefix=f"checkpoints/{name}/")["Contents"]
        assert [k["Key"] for k in keys] == [f"checkpoints/{name}/{name}"]
        # Each job's log holds its own lines only.
        log = (sm.workspace / "jobs" / name / "logs" / "algo-1.log").read_text()
        assert f'"job": "{name}"' in log
        assert all(f'"job": "{other}"' not in log for other in names if other != name)


RUNNER = textwrap.dedent(
    """
    import json, sys
    from simulator import LocalSageMaker
    from simulator.s3 import sourcedir_tarball
    from pathlib import Path

    workspace, code_dir, go, data = sys.argv[1:5]
    with LocalSageMaker(workspace=workspace, log_sink=lambda line: None) as sm:
        sm.s3.create_bucket(Bucket="twin-bucket")
        sm.s3.put_object(Bucket="twin-bucket", Key="c.tar.gz",
                         Body=sourcedir_tarball(Path(code_dir)))
        sm.s3.put_object(Bucket="twin-bucket", Key="data/data.txt", Body=data.encode())
        hps = {"sagemaker_program": '"train.py"',
               "sagemaker_submit_directory": '"s3://twin-bucket/c.tar.gz"',
               "marker": json.dumps(data), "go": json.dumps(go)}
        sm.create_training_job(
            TrainingJobName="twin",  # the same name in both: each simulator has its own
            AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/R",
            HyperParameters=hps,
            InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://twin-bucket/data/"}}}],
            OutputDataConfig={"S3OutputPath": "s3://twin-bucket/out"},
            ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                            "VolumeSizeInGB": 1},
            CheckpointConfig={"S3Uri": "s3://twin-bucket/checkpoints"},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )
        desc = sm.wait_for_training_job("twin", timeout=240)
        keys = [o["Key"] for o in sm.s3.list_objects_v2(Bucket="twin-bucket")["Contents"]]
        print(json.dumps({"status": desc["TrainingJobStatus"],
                          "reason": desc.get("FailureReason"), "keys": sorted(keys)}))
    """
)


def test_two_simulators_on_two_workspaces_at_once(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SCRIPT)
    go = tmp_path / "go"
    workspaces = [tmp_path / "ws-a", tmp_path / "ws-b"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(ws), str(code), str(go), f"data of {ws.name}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ws in workspaces
    ]
    try:

        def both_training() -> bool:
            for ws in workspaces:
                describe = ws / "jobs" / "twin" / "describe.json"
                try:
                    if json.loads(describe.read_text())["SecondaryStatus"] != "Training":
                        return False
                except (OSError, ValueError):
                    return False
            return True

        _wait(both_training, "both simulators' jobs Training")
        go.touch()
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for ws, (stdout, stderr), proc in zip(workspaces, outs, procs, strict=True):
        assert proc.returncode == 0, stderr[-2000:]
        result = json.loads(stdout.strip().splitlines()[-1])
        assert result["status"] == "Completed", result["reason"]
        # Each simulator's S3 holds its own objects only (one checkpoint: its own job's).
        assert result["keys"] == [
            "c.tar.gz",
            "checkpoints/twin",
            "data/data.txt",
            "out/twin/output/model.tar.gz",
            "out/twin/output/output.tar.gz",
        ]
        seen = json.loads(
            (ws / "jobs" / "twin" / "logs" / "algo-1.log")
            .read_text()
            .split("seen=")[1]
            .splitlines()[0]
        )
        assert seen["data"] == f"data of {ws.name}" and seen["marker"] == f"data of {ws.name}"
        assert seen["checkpoints"] == []


def test_two_sessions_in_one_process_keep_their_jobs_apart(
    tmp_path, make_sourcedir_tar, training_request, read_tar
):
    """Two LocalSageMaker of one process, on two workspaces, running a job of the same name
    at once: each lists, describes and runs its own. (moto's backends are per process, so
    in one process their S3 is one: each job here reads its own bucket.)"""
    from simulator import LocalSageMaker

    go = tmp_path / "go"
    sessions = {
        ws: LocalSageMaker(workspace=tmp_path / ws, log_sink=lambda line: None).start()
        for ws in ("ws-one", "ws-two")
    }
    try:
        for ws, sm in sessions.items():
            bucket = f"bucket-{ws}"
            sm.s3.create_bucket(Bucket=bucket)
            sm.s3.put_object(
                Bucket=bucket, Key="c.tar.gz", Body=make_sourcedir_tar({"train.py": SCRIPT})
            )
            sm.s3.put_object(Bucket=bucket, Key="data/data.txt", Body=f"data of {ws}".encode())
            request = training_request(
                "twin",
                f"s3://{bucket}/c.tar.gz",
                hyperparameters={"marker": ws, "go": str(go)},
                channels={"train": f"s3://{bucket}/data/"},
                OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
                CheckpointConfig={"S3Uri": f"s3://{bucket}/checkpoints"},
            )
            sm.create_training_job(**request)  # the same name: not taken in the other
        _wait(
            lambda: all(
                sm.describe_training_job(TrainingJobName="twin")["SecondaryStatus"] == "Training"
                for sm in sessions.values()
            ),
            "both sessions' jobs Training",
        )
        go.touch()
        for ws, sm in sessions.items():
            desc = sm.wait_for_training_job("twin", timeout=180)
            assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
            assert desc["TrainingJobArn"].endswith("training-job/twin")
            listed = sm.list_training_jobs()["TrainingJobSummaries"]
            assert [j["TrainingJobName"] for j in listed] == ["twin"]
            seen = json.loads(
                read_tar(sm, f"bucket-{ws}", "out/twin/output/model.tar.gz")["seen.json"]
            )
            assert seen["data"] == f"data of {ws}" and seen["marker"] == ws
            assert (tmp_path / ws / "jobs" / "twin" / "describe.json").is_file()
    finally:
        for sm in sessions.values():
            sm.close()
