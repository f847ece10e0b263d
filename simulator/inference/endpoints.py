"""Real-time endpoints: CreateEndpoint … DeleteEndpoint and InvokeEndpoint, served locally.

The service's behaviour followed:
* CreateEndpoint returns at once with ``EndpointStatus`` ``Creating``; the endpoint is
  ``InService`` once each production variant's container answers ``/ping`` (here: one
  model server per variant, ``simulator.inference.server``), ``Failed`` with a
  FailureReason when one does not (a model that fails to load);
* the endpoint config and the models are CreateEndpointConfig's and CreateModel's
  (kept by moto); a name is unique ("Cannot create already existing endpoint");
* UpdateEndpoint: ``Updating`` while the new config's servers start, then the switch,
  then the old servers stop; a failed update leaves the old ones serving;
* DeleteEndpoint stops the servers; the endpoint is gone for Describe at once;
* InvokeEndpoint picks a variant (``TargetVariant``, else by weight), sends the body with
  ``ContentType``, ``Accept`` and ``CustomAttributes``; a non-200 answer of the model is
  the service's ``ModelError`` (status and body of the container kept).

Every endpoint stops with the simulator (``close``): none outlives it.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from simulator.errors import Problem, UnsupportedFeature, ValidationError
from simulator.hosts.layout import clip
from simulator.hosts.local import local_launcher
from simulator.inference.endpoint_state import (
    EndpointNotFound,
    EndpointState,
    ModelError,
    Variant,
)
from simulator.inference.server import ModelServer
from simulator.jobs.records import now, with_fields
from simulator.shapes import validate_request, validate_response


class EndpointService:
    """The endpoints of one LocalSageMaker session."""

    def __init__(self, backend: Any) -> None:
        # The endpoint's SageMakerBackend: moto_client (configs, models), s3, aws, images,
        # log_sink, cloudwatch, workspace.
        self.sim = backend
        self._endpoints: dict[str, EndpointState] = {}
        self._lock = threading.Lock()

    # -- API --------------------------------------------------------------------------
    def create_endpoint(self, **request: Any) -> dict[str, str]:
        validate_request("CreateEndpoint", request)
        name = request["EndpointName"]
        config = request["EndpointConfigName"]
        variants = self._variants(config)
        arn = f"arn:aws:sagemaker:{self.sim.region}:{self.sim.account_id}:endpoint/{name.lower()}"
        t = now()
        describe = {
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": config,
            "EndpointStatus": "Creating",
            "CreationTime": t,
            "LastModifiedTime": t,
        }
        endpoint = EndpointState(name, arn, config, describe)
        with self._lock:
            if name in self._endpoints:
                raise ValidationError(
                    "CreateEndpoint request",
                    [
                        Problem(
                            "EndpointName",
                            f'Cannot create already existing endpoint "{arn}"',
                            name,
                            "delete it first or choose another name",
                        )
                    ],
                )
            self._endpoints[name] = endpoint
        self._validate(endpoint)
        threading.Thread(
            target=self._deploy,
            args=(endpoint, variants, None),
            daemon=True,
            name=f"smsim-endpoint-{name}",
        ).start()
        return {"EndpointArn": arn}

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        endpoint = self._get(EndpointName)
        with endpoint.lock:
            return dict(endpoint.describe)

    def list_endpoints(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            endpoints = list(self._endpoints.values())
        keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        items = [{k: e.describe[k] for k in keys} for e in endpoints]
        if kwargs.get("NameContains"):
            items = [i for i in items if kwargs["NameContains"] in i["EndpointName"]]
        if kwargs.get("StatusEquals"):
            items = [i for i in items if i["EndpointStatus"] == kwargs["StatusEquals"]]
        items.sort(key=lambda i: i["CreationTime"], reverse=kwargs.get("SortOrder") != "Ascending")
        return {"Endpoints": items}

    def update_endpoint(self, **request: Any) -> dict[str, str]:
        validate_request("UpdateEndpoint", request)
        endpoint = self._get(request["EndpointName"])
        variants = self._variants(request["EndpointConfigName"])
        with endpoint.lock:
            if endpoint.describe["EndpointStatus"] != "InService":
                raise ValidationError(
                    "UpdateEndpoint request",
                    [
                        Problem(
                            "EndpointName",
                            "the endpoint is not InService",
                            endpoint.describe["EndpointStatus"],
                            "wait until it is InService",
                        )
                    ],
                )
            endpoint.settled.clear()
            self._set(endpoint, EndpointStatus="Updating")
        threading.Thread(
            target=self._deploy,
            args=(endpoint, variants, request["EndpointConfigName"]),
            daemon=True,
        ).start()
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        endpoint = self._get(EndpointName)
        with self._lock:
            self._endpoints.pop(EndpointName, None)
        with endpoint.lock:
            variants, endpoint.variants = endpoint.variants, []
            endpoint.describe["EndpointStatus"] = "Deleting"
        for variant in variants:
            variant.server.stop()
        return {}

    def wait_for_endpoint(self, EndpointName: str, timeout: float | None = None) -> dict[str, Any]:  # noqa: N803
        """Block until the endpoint is InService or Failed; its description."""
        endpoint = self._get(EndpointName)
        if not endpoint.settled.wait(timeout):
            raise TimeoutError(
                f"endpoint {EndpointName!r} still {endpoint.describe['EndpointStatus']}"
            )
        return self.describe_endpoint(EndpointName)

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        """sagemaker-runtime InvokeEndpoint; ModelError for an error of the model."""
        endpoint = self._get(request["EndpointName"])
        with endpoint.lock:
            status = endpoint.describe["EndpointStatus"]
            variants = list(endpoint.variants)
        if not variants:
            raise ValidationError(
                "InvokeEndpoint request",
                [
                    Problem(
                        "EndpointName",
                        f"the endpoint is {status}, not InService",
                        request["EndpointName"],
                        "wait for EndpointStatus InService",
                    )
                ],
            )
        target = request.get("TargetVariant")
        if target:
            chosen = [v for v in variants if v.name == target]
            if not chosen:
                raise ValidationError(
                    "InvokeEndpoint request",
                    [
                        Problem(
                            "TargetVariant",
                            "no such variant",
                            target,
                            f"use one of {[v.name for v in variants]}",
                        )
                    ],
                )
            variant = chosen[0]
        else:
            variant = random.choices(variants, weights=[v.weight or 1e-9 for v in variants])[0]
        body = request["Body"]
        if isinstance(body, str):
            body = body.encode()
        elif hasattr(body, "read"):
            body = body.read()
        answer = variant.server.invoke(
            bytes(body),
            request.get("ContentType"),
            request.get("Accept"),
            request.get("CustomAttributes"),
        )
        if not answer.ok:
            stream = (
                f"arn:aws:logs:{self.sim.region}:{self.sim.account_id}:log-group:"
                f"/aws/sagemaker/Endpoints/{endpoint.name}"
            )
            raise ModelError(endpoint.name, variant.name, answer, stream)
        return {
            "Body": answer.body,
            "ContentType": answer.content_type or "application/octet-stream",
            "InvokedProductionVariant": variant.name,
        }

    def close(self) -> None:
        """Stop every endpoint's servers (the simulator is closing)."""
        with self._lock:
            endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            with endpoint.lock:
                variants, endpoint.variants = endpoint.variants, []
            for variant in variants:
                variant.server.stop()

    # -- internals --------------------------------------------------------------------
    def _get(self, name: str) -> EndpointState:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            arn = (
                f"arn:aws:sagemaker:{self.sim.region}:{self.sim.account_id}:endpoint/{name.lower()}"
            )
            raise EndpointNotFound(f'Could not find endpoint "{arn}".')
        return endpoint

    def _variants(self, config_name: str) -> list[dict[str, Any]]:
        """The endpoint config's production variants, each with its model's description."""
        client = self.sim.moto_client
        try:
            config = client.describe_endpoint_config(EndpointConfigName=config_name)
        except ClientError as exc:
            raise ValidationError(
                "CreateEndpoint request",
                [
                    Problem(
                        "EndpointConfigName",
                        "Could not find endpoint configuration",
                        config_name,
                        "create it first with CreateEndpointConfig",
                    )
                ],
            ) from exc
        variants = []
        for variant in config["ProductionVariants"]:
            if int(variant.get("InitialInstanceCount", 1)) != 1:
                raise UnsupportedFeature(
                    f"ProductionVariants[{variant['VariantName']}].InitialInstanceCount is "
                    f"{variant['InitialInstanceCount']}: smsim serves one instance per variant"
                )
            try:
                model = client.describe_model(ModelName=variant["ModelName"])
            except ClientError as exc:
                raise ValidationError(
                    "CreateEndpoint request",
                    [
                        Problem(
                            "ModelName",
                            "Could not find model",
                            variant["ModelName"],
                            "create it first with CreateModel",
                        )
                    ],
                ) from exc
            variants.append({"variant": variant, "model": model})
        return variants

    def _deploy(
        self, endpoint: EndpointState, variants: list[dict[str, Any]], new_config: str | None
    ) -> None:
        started: list[Variant] = []
        try:
            for item in variants:
                started.append(self._start_variant(endpoint, item))
        except Exception as exc:  # noqa: BLE001 - the endpoint's FailureReason
            for variant in started:
                variant.server.stop()
            with endpoint.lock:
                reason = clip(f"{exc}")
                if new_config is None:
                    self._set(endpoint, EndpointStatus="Failed", FailureReason=reason)
                else:  # a failed update: the old variants keep serving
                    self._set(endpoint, EndpointStatus="InService", FailureReason=reason)
            endpoint.settled.set()
            return
        with endpoint.lock:
            if endpoint.name not in self._endpoints:  # deleted meanwhile
                old = started
            else:
                old, endpoint.variants = endpoint.variants, started
                fields: dict[str, Any] = {
                    "EndpointStatus": "InService",
                    "ProductionVariants": [self._summary(v) for v in started],
                    "FailureReason": None,
                }
                if new_config is not None:
                    fields["EndpointConfigName"] = new_config
                self._set(endpoint, **fields)
        for variant in old:
            variant.server.stop()
        endpoint.settled.set()

    def _start_variant(self, endpoint: EndpointState, item: dict[str, Any]) -> Variant:
        variant, model = item["variant"], item["model"]
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        stamp = now().strftime("%Y%m%dT%H%M%S%f")
        root = self.sim.workspace / "endpoints" / endpoint.name / stamp / variant["VariantName"]
        prefix = f"{endpoint.name}/{variant['VariantName']}"
        sink = self.sim.log_sink
        cloudwatch = self.sim.cloudwatch.log_sink(
            f"/aws/sagemaker/Endpoints/{endpoint.name}", f"{variant['VariantName']}/{stamp}"
        )

        def lines(line: str) -> None:
            sink(line)
            cloudwatch(line.split("] ", 1)[-1])

        server = ModelServer(
            Path(root),
            container,
            s3=self.sim.s3,
            aws_env=self.sim.aws.env(),
            images=self.sim.images,
            sink=lines,
            prefix=prefix,
            log_dir=Path(root).parent / "logs",
            concurrency=8,
            launcher=local_launcher(self.sim.settings.container_mode),  # as the jobs' hosts
        )
        try:
            server.launch()  # held: its own imports while the model downloads (server.py)
            server.prepare()
            server.start()
        except BaseException:
            server.stop()
            raise
        return Variant(
            variant["VariantName"],
            float(variant.get("InitialVariantWeight", 1.0)),
            container.get("Image", ""),
            server,
        )

    @staticmethod
    def _summary(variant: Variant) -> dict[str, Any]:
        return {
            "VariantName": variant.name,
            "DeployedImages": [
                {
                    "SpecifiedImage": variant.image,
                    "ResolvedImage": variant.image,
                    "ResolutionTime": now(),
                }
            ],
            "CurrentWeight": variant.weight,
            "DesiredWeight": variant.weight,
            "CurrentInstanceCount": 1,
            "DesiredInstanceCount": 1,
        }

    def _set(self, endpoint: EndpointState, **fields: Any) -> None:
        with endpoint.lock:
            describe = with_fields(endpoint.describe, fields)
            describe["LastModifiedTime"] = now()
            validate_response("DescribeEndpoint", describe)
            endpoint.describe = describe

    def _validate(self, endpoint: EndpointState) -> None:
        validate_response("DescribeEndpoint", endpoint.describe)


__all__ = ["EndpointNotFound", "EndpointService", "ModelError"]
