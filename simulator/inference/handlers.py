"""The user's inference module and the toolkit's request workflow around it.

What aws/sagemaker-inference-toolkit's ``Transformer`` does, inside the server process:

* the module is ``SAGEMAKER_PROGRAM`` (default ``inference.py``, ``.py`` dropped),
  imported from the code directory (``/opt/ml/model/code``, put first on
  ``sys.path``); no module there → the defaults only;
* ``model_fn(model_dir)`` once at start; then per request ``transform_fn(model,
  body, content_type, accept)``, by default ``output_fn(predict_fn(input_fn(body,
  content_type), model), accept)``; ``transform_fn`` together with any of the three
  others is refused (the toolkit's ValueError);
* a handler may take one extra trailing ``context`` argument (the toolkit's
  ``_run_handler_function``);
* ``Accept`` absent or ``*/*`` → ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (default
  ``application/json``); JSON and CSV bodies reach the handlers as ``str``;
* a result ``(body, content_type)`` sets the response type, else it is ``accept``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.inference import content

DEFAULT_MODULE = "inference.py"


class HandlerError(Exception):
    """A request the handlers failed: HTTP status and the body the client gets."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@dataclass
class Context:
    """The ``context`` a handler may ask for: the request's headers and the model dir."""

    model_dir: str
    request_headers: dict[str, str] = field(default_factory=dict)

    @property
    def custom_attributes(self) -> str | None:
        return self.request_headers.get("x-amzn-sagemaker-custom-attributes")


def module_name(program: str | None) -> str:
    program = program or DEFAULT_MODULE
    return program[:-3] if program.endswith(".py") else program


def _default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation in the inference script "
        f"(SAGEMAKER_PROGRAM={os.environ.get('SAGEMAKER_PROGRAM', DEFAULT_MODULE)}); "
        "see the SageMaker Python SDK documentation of model_fn"
    )


def _default_predict_fn(data: Any, model: Any) -> Any:
    raise NotImplementedError(
        "Please provide a predict_fn implementation in the inference script "
        "(smsim has no framework-specific default predict_fn)"
    )


def _default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return content.encode(prediction, accept)


class Handlers:
    """The loaded model and the handler functions serving it."""

    def __init__(self, model_dir: Path, code_dir: Path | None, program: str | None) -> None:
        self.model_dir = str(model_dir)
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", content.JSON)
        module = self._import(code_dir, module_name(program))
        fns = {
            n: getattr(module, n, None) if module else None
            for n in ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
        }
        if fns["transform_fn"] and (fns["input_fn"] or fns["predict_fn"] or fns["output_fn"]):
            raise ValueError(
                "Cannot use transform_fn implementation in conjunction with input_fn, "
                "predict_fn, and/or output_fn implementation"
            )
        self.model_fn: Callable[..., Any] = fns["model_fn"] or _default_model_fn
        self.input_fn: Callable[..., Any] = fns["input_fn"] or content.decode
        self.predict_fn: Callable[..., Any] = fns["predict_fn"] or _default_predict_fn
        self.output_fn: Callable[..., Any] = fns["output_fn"] or _default_output_fn
        self.transform_fn: Callable[..., Any] | None = fns["transform_fn"]
        self.model = self._call(self.model_fn, Context(self.model_dir), self.model_dir)

    @staticmethod
    def _import(code_dir: Path | None, name: str) -> Any:
        if code_dir is not None and code_dir.is_dir():
            sys.path.insert(0, str(code_dir))
        if importlib.util.find_spec(name) is None:
            return None  # the toolkit serves with its defaults alone
        return importlib.import_module(name)

    @staticmethod
    def _call(fn: Callable[..., Any], context: Context, *args: Any) -> Any:
        try:
            wanted = len(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            wanted = len(args)
        if wanted == len(args) + 1:
            return fn(*args, context)
        if wanted != len(args):
            raise TypeError(f"{fn.__name__} takes {wanted} arguments but {len(args)} were given.")
        return fn(*args)

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None, headers: dict[str, str]
    ) -> tuple[bytes, str]:
        """One request: the response body and content type, or HandlerError."""
        if not accept or accept == content.ANY:
            accept = self.default_accept
        context = Context(self.model_dir, headers)
        data: str | bytes = body
        if content_type in content.UTF8_TYPES:
            data = body.decode("utf-8")
        try:
            if self.transform_fn is not None:
                result = self._call(
                    self.transform_fn, context, self.model, data, content_type, accept
                )
            else:
                decoded = self._call(self.input_fn, context, data, content_type)
                prediction = self._call(self.predict_fn, context, decoded, self.model)
                result = self._call(self.output_fn, context, prediction, accept)
        except Exception as exc:  # noqa: BLE001 - the client gets the error, as from the toolkit
            status = getattr(exc, "status_code", 500)
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            # The toolkit's handle_error: the message, then the stack trace.
            raise HandlerError(int(status), f"{message}\n{traceback.format_exc()}") from exc
        response_type = accept
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        if isinstance(result, str):
            result = result.encode("utf-8")
        if not isinstance(result, (bytes, bytearray, memoryview)):
            raise HandlerError(
                500,
                f"the handler returned {type(result).__name__}, not str or bytes: serialize the "
                "prediction in output_fn (or return it from transform_fn serialized)",
            )
        return bytes(result), response_type
