"""The requests of the steps that serve a trained model: CreateModel, CreateModelPackage
(RegisterModel) and CreateTransformJob, as the SageMaker Python SDK writes them.

A mixin of :class:`~simulator.pipeline.build.step_requests.StepRequests`, which owns the
assembly run's state (its config, the resolved inputs, the problems found).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.errors import Problem
from simulator.requests import join
from specs.base import DependencyType, StepSpecification

if TYPE_CHECKING:
    from simulator.pipeline.build.assembly import AssembledPipeline
    from simulator.pipeline.build.config import PipelineConfig

# The pipeline parameter the RegisterModel step reads its approval status from.
PARAM_APPROVAL = "ModelApprovalStatus"


class ModelStepRequests:
    """Builders of the model-serving steps (see the module doc)."""

    a: AssembledPipeline
    cfg: PipelineConfig
    problems: list[Problem]

    def inputs(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def s3_uri(self, step: str, *parts: str) -> dict[str, Any]:
        raise NotImplementedError

    def model(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        model_data = self._model_data(name, spec)
        return {
            "ExecutionRoleArn": self.cfg.role_arn,
            "PrimaryContainer": {
                "Image": self.cfg.inference_image_uri,
                "Environment": self.serving_environment(),
                "ModelDataUrl": model_data,
            },
        }

    def serving_environment(self) -> dict[str, str]:
        """The model container's Environment as the SDK's framework models write it: the
        inference script (SAGEMAKER_PROGRAM) in the training code's sourcedir.tar.gz
        (SAGEMAKER_SUBMIT_DIRECTORY), which the serving toolkits unpack and import."""
        env = {"SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": self.cfg.region}
        if self.cfg.inference_entry_point:
            env["SAGEMAKER_PROGRAM"] = self.cfg.inference_entry_point
            env["SAGEMAKER_SUBMIT_DIRECTORY"] = self.a.code.sourcedir
        return env

    def transform(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        """CreateTransformJob of the served model on the wired records (CSV lines,
        batched up to 6 MB as the SDK's default), each output line the input record's
        label joined with its prediction (DataProcessing, per the developer guide's
        "associate prediction results with input records")."""
        wired = self.inputs(name)
        model, records = wired.get("model_name"), wired.get("transform_input")
        for logical, value in (("model_name", model), ("transform_input", records)):
            if value is None:
                self.problems.append(
                    Problem(
                        f"steps.{name}.{logical}",
                        "no upstream output feeds this dependency",
                        fix="add an edge from a step producing it",
                    )
                )
        return {
            "ModelName": model,
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": 6,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": records}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": self.s3_uri(name, "output"),
                "Accept": "text/csv",
                "AssembleWith": "Line",
            },
            "TransformResources": {
                "InstanceType": self.cfg.transform_instance_type,
                "InstanceCount": 1,
            },
            "DataProcessing": {
                "InputFilter": self.cfg.transform_input_filter,
                "JoinSource": "Input",
                "OutputFilter": self.cfg.transform_output_filter,
            },
        }

    def register_model(self, name: str, spec: StepSpecification) -> dict[str, Any]:
        model_data = self._model_data(name, spec)
        wired = self.inputs(name)
        args: dict[str, Any] = {
            "ModelPackageGroupName": self.cfg.model_package_group,
            "ModelPackageDescription": (
                f"{self.a.dag.name} model registered by pipeline {self.cfg.pipeline_name}"
            ),
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": self.cfg.inference_image_uri,
                        "Environment": self.serving_environment(),
                        "ModelDataUrl": model_data,
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large", "ml.m5.xlarge"],
                "SupportedTransformInstanceTypes": ["ml.m5.xlarge"],
            },
            "ModelApprovalStatus": {"Get": f"Parameters.{PARAM_APPROVAL}"},
        }
        metrics = [
            wired[d.logical_name]
            for d in spec.dependencies.values()
            if d.dependency_type is DependencyType.PROCESSING_OUTPUT and d.logical_name in wired
        ]
        if metrics:
            file_path = self.a.dag.gate.file_path if self.a.dag.gate else "evaluation.json"
            args["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": join("/", metrics[0], file_path),
                    }
                }
            }
        return args

    def _model_data(self, name: str, spec: StepSpecification) -> Any:
        wired = self.inputs(name)
        for dep in spec.dependencies.values():
            if dep.dependency_type is DependencyType.MODEL_ARTIFACTS and dep.logical_name in wired:
                return wired[dep.logical_name]
        self.problems.append(
            Problem(
                f"steps.{name}",
                "no model artifacts are wired into this step",
                fix="add an edge from the training step",
            )
        )
        return ""
