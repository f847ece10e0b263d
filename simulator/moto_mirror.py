"""moto's SageMaker kept in step with smsim's jobs, and moto's job handlers routed to smsim.

Two directions, so that any boto3 client in the process (the SageMaker Python
SDK's included) sees and starts real jobs:

* ``MotoMirror.create`` / ``sync``: each smsim job also exists in moto's SageMaker
  backend, and its object there is overwritten with our description at every state
  change (moto builds its describe/list responses from the object's attributes), so
  ``boto3.client("sagemaker").describe_training_job`` shows the real status and
  metrics instead of moto's instant "Completed" and hard-coded values.
* ``MotoMirror.install_hooks``: CreateTrainingJob/StopTrainingJob (and processing)
  arriving at moto over HTTP go to the simulator, with smsim's errors turned into
  the service's error codes.
"""

from __future__ import annotations

import json
from typing import Any

from simulator.aws import EmbeddedAws
from simulator.errors import ResourceInUse, ResourceNotFound, SmsimError
from simulator.inference.endpoints import EndpointNotFound
from simulator.jobs.records import JobRecord

# Attributes moto's list/filter code reads from its job objects (snake_case), per kind.
_MOTO_ATTRS = {
    "training": {
        "training_job_name": "TrainingJobName",
        "creation_time": "CreationTime",
        "training_end_time": "TrainingEndTime",
        "last_modified_time": "LastModifiedTime",
        "training_job_status": "TrainingJobStatus",
    },
    "processing": {
        "processing_job_name": "ProcessingJobName",
        "creation_time": "CreationTime",
        "processing_end_time": "ProcessingEndTime",
        "last_modified_time": "LastModifiedTime",
        "processing_job_status": "ProcessingJobStatus",
    },
}
_ARN_KEYS = {"training": "TrainingJobArn", "processing": "ProcessingJobArn"}
HOOKED_OPS = (
    "create_training_job",
    "stop_training_job",
    "create_processing_job",
    "stop_processing_job",
    # Transform jobs (#15) are not mirrored in moto: all their operations go to smsim.
    "create_transform_job",
    "describe_transform_job",
    "list_transform_jobs",
    "stop_transform_job",
    # Endpoints (#15): smsim serves them (create/update/delete start and stop servers).
    "create_endpoint",
    "describe_endpoint",
    "update_endpoint",
    "delete_endpoint",
    "list_endpoints",
)


class MotoMirror:
    """Mirror of smsim's job records in moto's SageMaker backend."""

    def __init__(self, aws: EmbeddedAws) -> None:
        self.aws = aws
        self.active = False
        self._saved_hooks: dict[str, Any] = {}

    def create(self, record: JobRecord) -> None:
        """Create the job's stand-in object in moto (filled in by ``sync``)."""
        if record.kind not in _MOTO_ATTRS:
            return  # transform jobs: moto's handlers are routed to smsim instead (#15)
        backend = self.aws.sagemaker_backend()
        request = record.request
        if record.kind == "training":
            backend.create_training_job(
                training_job_name=record.name,
                hyper_parameters={},
                algorithm_specification={},
                role_arn=request["RoleArn"],
                input_data_config=[],
                output_data_config=dict(request["OutputDataConfig"]),
                resource_config={},
                vpc_config=None,
                stopping_condition={},
                tags=request.get("Tags", []),
                enable_network_isolation=False,
                enable_inter_container_traffic_encryption=False,
                enable_managed_spot_training=False,
                checkpoint_config=None,
                debug_hook_config=None,
                debug_rule_configurations=None,
                tensor_board_output_config=None,
                experiment_config=None,
            )
        else:
            backend.create_processing_job(
                app_specification={},
                experiment_config=None,
                network_config=None,
                processing_inputs=[],
                processing_job_name=record.name,
                processing_output_config=None,
                role_arn=request["RoleArn"],
                tags=request.get("Tags", []),
                stopping_condition=None,
            )

    def sync(self, record: JobRecord) -> None:
        """Overwrite moto's job object with our description (moto builds its describe
        response from the object's attributes, CamelCase names passing through as is)."""
        if not self.active or record.kind not in _MOTO_ATTRS:
            return
        backend = self.aws.sagemaker_backend()
        jobs = backend.training_jobs if record.kind == "training" else backend.processing_jobs
        job = jobs.get(record.name)
        if job is None:
            return
        desc = record.snapshot()
        fields: dict[str, Any] = {"arn": desc[_ARN_KEYS[record.kind]]}
        names = _MOTO_ATTRS[record.kind]
        for attr, key in names.items():
            fields[attr] = desc.get(key)
        taken = set(names.values()) | {_ARN_KEYS[record.kind]}
        fields.update({k: v for k, v in desc.items() if k not in taken})
        fields["tags"] = getattr(job, "tags", None) or []  # moto's tagging API reads it
        # One assignment: moto's server threads never see the object half rewritten.
        job.__dict__ = fields

    def install_hooks(self, sim: Any) -> None:
        """Route job creation and stops that reach moto's SageMaker over HTTP to ``sim``,
        so a client we did not make (the SDK's ``Estimator.fit``, a plain
        ``boto3.client("sagemaker")``) runs a real job."""
        from moto.sagemaker.responses import SageMakerResponse

        self._saved_hooks = {name: SageMakerResponse.__dict__.get(name) for name in HOOKED_OPS}
        for name in HOOKED_OPS:
            setattr(SageMakerResponse, name, _moto_hook(sim, name))
        self.active = True

    def remove_hooks(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        for name, original in self._saved_hooks.items():
            if original is None:  # moto has no handler of its own (stop_training_job)
                delattr(SageMakerResponse, name)
            else:
                setattr(SageMakerResponse, name, original)
        self._saved_hooks = {}
        self.active = False


def _moto_hook(sim: Any, operation: str) -> Any:
    """A replacement for moto's handler of ``operation`` that calls ``sim`` instead,
    with smsim's errors turned into the service's error codes."""

    def handler(response: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sagemaker import exceptions as moto_errors

        params = json.loads(response.body or "{}")
        try:
            result = getattr(sim, operation)(**params)
        except ResourceInUse as exc:
            raise moto_errors.ResourceInUseException(str(exc)) from exc
        except (ResourceNotFound, EndpointNotFound) as exc:
            raise moto_errors.ValidationError(str(exc)) from exc
        except SmsimError as exc:  # ValidationError, UnsupportedFeature, …
            raise moto_errors.ValidationError(str(exc)) from exc
        return ActionResult(result)

    handler.__name__ = operation
    return handler
