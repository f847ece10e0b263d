"""Run one training job on a workspace on a tiny file system, print what a user sees.

``python disk_full_driver.py WORKSPACE CASE``; CASE ``script``: the script itself fills
the disk writing its model; ``pack``: the script fits, smsim's model.tar.gz does not.
Prints one JSON document: the final description's status and reason, whether
describe.json on disk is whole, and the S3 keys under the job's output. Run by
test_workspace.py inside a private mount namespace holding the tmpfs.
"""

from __future__ import annotations

import json
import sys

# driver.py stands next to this script (sys.path[0]); not tests.support: an installed
# distribution (smdebug-rulesconfig) ships a top-level ``tests`` package that shadows ours.
from driver import IMAGE, ROLE, sourcedir

from simulator import LocalSageMaker

BUCKET = "smsim-disk-full"
SCRIPTS = {
    # 4 MiB into a 1 MiB file system: the script's own write fails.
    "script": "import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'm.bin'), 'wb')"
    ".write(os.urandom(4 << 20))\n",
    # 700 KiB of incompressible bytes fit once, not twice (the archive).
    "pack": "import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'm.bin'), 'wb')"
    ".write(os.urandom(700 << 10))\nprint('model saved')\n",
}


def main(workspace: str, case: str) -> None:
    with LocalSageMaker(
        workspace=workspace, container_mode="fallback", log_sink=lambda _: None
    ) as sm:
        sm.s3.create_bucket(Bucket=BUCKET)
        code = sourcedir(SCRIPTS[case])
        sm.s3.put_object(Bucket=BUCKET, Key="code.tar.gz", Body=code)
        sm.create_training_job(
            TrainingJobName="full",
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            HyperParameters={
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"s3://{BUCKET}/code.tar.gz"',
            },
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
            ResourceConfig={
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        job = sm.wait_for_training_job("full", timeout=300)
        listed = sm.s3.list_objects_v2(Bucket=BUCKET, Prefix="output/").get("Contents", [])
        try:
            with open(f"{workspace}/jobs/full/describe.json") as f:
                stored = json.loads(f.read())
            stored_status = stored["TrainingJobStatus"]
        except ValueError as exc:
            stored_status = f"not JSON: {exc}"
    print(
        json.dumps(
            {
                "status": job["TrainingJobStatus"],
                "reason": job.get("FailureReason", ""),
                "stored_status": stored_status,
                "keys": sorted(o["Key"] for o in listed),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
