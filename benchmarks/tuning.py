"""Scheduling overhead of a tuning job: an 8-job tuning of the BSM model, 2 at a time.

    .venv/bin/python benchmarks/tuning.py [--rows 1500 --epochs 2] [--jobs 8] [--parallel 2]

Figure (target from issue 16): the tuning job's wall time (create → Completed)
against the sum of its training jobs' own times (each job's CreationTime →
TrainingEndTime, staging and upload included) divided by MaxParallelTrainingJobs —
the wall time a perfect scheduler that keeps every slot busy would need.
Target: ratio <= 1.15. Random strategy over lr (log) and dropout, seeded; the
jobs use one torch thread each (``OMP_NUM_THREADS=1``) so that two fit on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator import LocalSageMaker  # noqa: E402
from simulator.s3 import pack_tar_gz  # noqa: E402

BUCKET = "smsim-bench"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"


def quiet(_: str) -> None:
    """Log sink: lines still go to each job's logs/, not to the console."""


def tuning_request(code: str, channels: dict[str, str], args: argparse.Namespace) -> dict:
    return {
        "HyperParameterTuningJobName": "bsm-bench",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 7,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "val:auroc"},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": args.jobs,
                "MaxParallelTrainingJobs": args.parallel,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "lr",
                        "MinValue": "0.001",
                        "MaxValue": "0.05",
                        "ScalingType": "Logarithmic",
                    },
                    {
                        "Name": "dropout",
                        "MinValue": "0.0",
                        "MaxValue": "0.5",
                        "ScalingType": "Linear",
                    },
                ]
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "max_epochs": json.dumps(args.epochs),
                "model_class": json.dumps("multimodal_cnn"),
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(code),
            },
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "val:loss", "Regex": r"val_loss=([0-9\.]+)"},
                    {"Name": "val:auroc", "Regex": r"val_auroc=([0-9\.]+)"},
                ],
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": ch,
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                }
                for ch, uri in channels.items()
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "Environment": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    from simulator.datasets import write_dataset

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with LocalSageMaker(workspace=tmp / "ws", log_sink=quiet) as sm:
            sm.s3.create_bucket(Bucket=BUCKET)
            data = write_dataset(tmp / "bsm", rows=args.rows, seed=11)
            channels = {}
            for split, path in data["files"].items():
                sm.s3.upload_file(path, BUCKET, f"bsm/data/{split}/{Path(path).name}")
                channels[split] = f"s3://{BUCKET}/bsm/data/{split}"
            archive = pack_tar_gz(REPO / "dockers" / "pytorch_bsm", tmp / "sourcedir.tar.gz")
            sm.s3.upload_file(str(archive), BUCKET, "bsm/sourcedir.tar.gz")
            code = f"s3://{BUCKET}/bsm/sourcedir.tar.gz"

            start = time.perf_counter()
            sm.create_hyper_parameter_tuning_job(**tuning_request(code, channels, args))
            desc = sm.wait_for_hyper_parameter_tuning_job("bsm-bench")
            wall = time.perf_counter() - start
            if desc["HyperParameterTuningJobStatus"] != "Completed":
                raise RuntimeError(f"tuning ended {desc['HyperParameterTuningJobStatus']}: {desc}")
            jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName="bsm-bench", MaxResults=100
            )["TrainingJobSummaries"]
            own = []
            for job in jobs:
                train = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
                own.append((train["TrainingEndTime"] - train["CreationTime"]).total_seconds())
            ideal = sum(own) / args.parallel
            best = desc["BestTrainingJob"]
            result: dict[str, Any] = {
                "jobs": len(jobs),
                "parallel": args.parallel,
                "rows": args.rows,
                "epochs": args.epochs,
                "wall_s": round(wall, 2),
                "sum_job_s": round(sum(own), 2),
                "ideal_s": round(ideal, 2),
                "ratio": round(wall / ideal, 3),
                "best_val_auroc": round(
                    best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], 4
                ),
                "best_hyperparameters": best["TunedHyperParameters"],
                "target": "ratio <= 1.15",
                "ok": wall / ideal <= 1.15,
            }
            print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
