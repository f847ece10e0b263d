"""The one SageMaker endpoint: a WSGI app in front of moto's.

``X-Amz-Target: SageMaker.<Operation>`` requests for an operation smsim serves go to
its handler (:mod:`simulator.endpoint.handlers`); IAM's ``SimulatePrincipalPolicy`` and
``GetRole`` get smsim's answers (:mod:`simulator.endpoint.iam`); everything else — S3,
IAM, STS, CloudWatch, Logs, the SageMaker operations smsim does not run such as
CreateModel — is handed to moto's app unchanged. smsim's errors become the service's
error body (code + message), so boto3 raises the ClientError the service would cause.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

import simulator.endpoint.iam as iam
import simulator.endpoint.local_channels as local_channels
import simulator.endpoint.wire as wire
from simulator.endpoint.handlers import Forward, Handler
from simulator.errors import (
    CLASS_HEADER,
    PROBLEMS_HEADER,
    SmsimError,
    problems_header,
    service_code,
)
from simulator.inference import runtime

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_TARGET_PREFIX = "SageMaker."
_log = logging.getLogger("smsim.endpoint")


class Router:
    """smsim's handlers first, moto's app for the rest."""

    def __init__(
        self,
        handlers: dict[str, Handler],
        fallback: WSGIApp,
        account_id: str,
        endpoints: Any = None,
    ) -> None:
        self.handlers = handlers
        self.fallback = fallback
        self.account_id = account_id
        self.endpoints = endpoints  # InvokeEndpoint's (simulator.inference.endpoints, #15)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if self.endpoints is not None and runtime.is_invocation(environ):
            return runtime.answer(environ, start_response, self.endpoints)
        if target.startswith(_TARGET_PREFIX):
            handler = self.handlers.get(target[len(_TARGET_PREFIX) :])
            if handler is not None:
                body = _read(environ)
                local = environ.get("HTTP_" + local_channels.HEADER.upper().replace("-", "_"), "")
                try:
                    return self._serve(
                        target[len(_TARGET_PREFIX) :], handler, body, start_response, local
                    )
                except Forward:
                    _rewind(environ, body)
        elif iam.is_iam(environ.get("HTTP_AUTHORIZATION", "")):
            body = _read(environ)
            answer = iam.answer(iam.form(body), self.account_id)
            if answer is not None:
                start_response("200 OK", [("Content-Type", "text/xml"), _length(answer)])
                return [answer]
            _rewind(environ, body)
        return self.fallback(environ, start_response)

    def _serve(
        self,
        operation: str,
        handler: Handler,
        body: bytes,
        start_response: Callable[..., Any],
        local: str = "",
    ) -> list[bytes]:
        try:
            params = local_channels.restore(operation, wire.decode_request(operation, body), local)
            response = handler(params)
            out = wire.encode_response(response)
            extra = local_channels.response_header(operation, response)
        except Forward:
            raise
        except SmsimError as exc:
            return _error(start_response, "400 Bad Request", service_code(exc), str(exc), exc)
        except ValueError as exc:  # a body that is not JSON
            return _error(start_response, "400 Bad Request", "SerializationException", str(exc))
        except Exception as exc:  # a bug of smsim's: the service's 500, with its reason
            _log.exception("smsim could not answer %s", operation)
            text = f"smsim could not answer {operation}: {type(exc).__name__}: {exc}"
            return _error(start_response, "500 Internal Server Error", "InternalFailure", text)
        headers = wire.headers(out)
        if extra:
            headers.append((local_channels.HEADER, extra))
        start_response("200 OK", headers)
        return [out]


def _error(
    start_response: Callable[..., Any],
    status: str,
    code: str,
    message: str,
    exc: SmsimError | None = None,
) -> list[bytes]:
    body = wire.encode_error(code, message)
    headers = wire.headers(body, code)
    if exc is not None:  # smsim's class and problems, for LocalSageMaker's errors
        headers.append((CLASS_HEADER, type(exc).__name__))
        listed = problems_header(exc)
        if listed:
            headers.append((PROBLEMS_HEADER, listed))
    start_response(status, headers)
    return [body]


def _read(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _rewind(environ: dict[str, Any], body: bytes) -> None:
    """Put a body read here back, for moto to read."""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _length(body: bytes) -> tuple[str, str]:
    return ("Content-Length", str(len(body)))
