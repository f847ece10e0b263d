"""The hyperparameter tuning operations smsim serves: boto3 method → API operation."""

from __future__ import annotations

TUNING_OPERATIONS: dict[str, str] = {
    "create_hyper_parameter_tuning_job": "CreateHyperParameterTuningJob",
    "describe_hyper_parameter_tuning_job": "DescribeHyperParameterTuningJob",
    "list_hyper_parameter_tuning_jobs": "ListHyperParameterTuningJobs",
    "list_training_jobs_for_hyper_parameter_tuning_job": (
        "ListTrainingJobsForHyperParameterTuningJob"
    ),
    "stop_hyper_parameter_tuning_job": "StopHyperParameterTuningJob",
}
