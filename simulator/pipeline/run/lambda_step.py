"""A Lambda step, run locally: the function created in the embedded AWS (moto's Lambda)
is invoked without Docker — its handler is imported from the function's own zip in a
subprocess, with the step's inputs as the event.

As on the service, the step's ``OutputParameters`` are taken from the dict the handler
returns (each declared name must be in it), and the step fails with the function's error
when the handler raises — or runs longer than the function's ``Timeout`` (Lambda's
default 3 s; CreateFunction's ``Timeout``), with Lambda's own "Task timed out after
N seconds"; ``context.get_remaining_time_in_millis()`` counts down to it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from typing import Any

from simulator.errors import SmsimError

_MARKER = "__SMSIM_LAMBDA_RESULT__"
# Lambda's defaults: a function's Timeout when CreateFunction gives none, and the limit
# of its initialisation (the handler module's import).
DEFAULT_TIMEOUT_SECONDS = 3.0
_INIT_SECONDS = 10.0
# Run in the subprocess: import the handler from the unpacked zip, call it, print the
# result after a marker (the function's own prints go before it, as its logs).
# The timeout is armed when the handler is called, as Lambda counts an invocation's time
# apart from the function's initialisation (the import).
_RUNNER = f"""
import importlib, json, signal, sys, time, traceback
sys.path.insert(0, ".")
module_name, _, func_name = sys.argv[1].rpartition(".")
timeout = float(sys.argv[3])
event = json.load(sys.stdin)
class TaskTimedOut(Exception):
    pass
def timed_out(signum, frame):
    raise TaskTimedOut(f"Task timed out after {{timeout:.2f}} seconds")
class Context:
    function_name = sys.argv[2]
    aws_request_id = "smsim-local"
    deadline = 0.0
    def get_remaining_time_in_millis(self):
        return max(0, int((self.deadline - time.monotonic()) * 1000))
try:
    handler = getattr(importlib.import_module(module_name), func_name)
    context = Context()
    signal.signal(signal.SIGALRM, timed_out)
    context.deadline = time.monotonic() + timeout
    signal.setitimer(signal.ITIMER_REAL, timeout)
    result = handler(event, context)
    signal.setitimer(signal.ITIMER_REAL, 0)
    print("{_MARKER}" + json.dumps({{"result": result}}, default=str), flush=True)
except Exception as exc:
    traceback.print_exc()
    print("{_MARKER}" + json.dumps({{"errorType": type(exc).__name__, "errorMessage": str(exc)}}),
          flush=True)
"""


class LambdaError(SmsimError):
    """The function could not be found or run, or it raised."""


def invoke(
    account_id: str,
    region: str,
    function: str,
    event: Any,
    env: dict[str, str],
) -> tuple[Any, str]:
    """Call ``function``'s handler with ``event``; (its return value, its output)."""
    fn = _function(account_id, region, function)
    timeout = float(getattr(fn, "timeout", None) or DEFAULT_TIMEOUT_SECONDS)
    runtime = str(getattr(fn, "run_time", "") or "")
    if not runtime.startswith("python"):
        raise LambdaError(
            f"function {function!r} has runtime {runtime!r}; smsim runs Python functions only"
        )
    with tempfile.TemporaryDirectory(prefix="smsim-lambda-") as root:
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            archive.extractall(root)  # zipfile drops "..", absolute parts of member names
        try:
            done = subprocess.run(
                [sys.executable, "-c", _RUNNER, fn.handler, fn.function_name, str(timeout)],
                input=json.dumps(event),
                capture_output=True,
                text=True,
                cwd=root,
                env={**os.environ, **env, **(fn.environment_vars or {})},
                # A backstop for a handler that blocks SIGALRM: the import's time too.
                timeout=timeout + _INIT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise LambdaError(
                f"function {function!r}: Task timed out after {timeout:.2f} seconds"
            ) from None
    logs, _, tail = done.stdout.rpartition(_MARKER)
    if not tail:
        raise LambdaError(
            f"function {function!r} exited {done.returncode} without a result: "
            f"{done.stderr.strip()[-500:]}"
        )
    answer = json.loads(tail)
    if "errorType" in answer:
        raise LambdaError(
            f"function {function!r} raised {answer['errorType']}: {answer['errorMessage']}"
        )
    return answer["result"], logs + done.stderr


def output_parameters(result: Any, declared: list[dict[str, Any]]) -> dict[str, Any]:
    """The declared OutputParameters from the handler's returned dict, typed."""
    if declared and not isinstance(result, dict):
        raise LambdaError(
            f"the function returned {type(result).__name__}; it must return a dict holding "
            f"the step's OutputParameters {[d.get('OutputName') for d in declared]}"
        )
    out = {}
    for item in declared:
        name = item.get("OutputName")
        if name not in result:
            raise LambdaError(
                f"output parameter {name!r} is not in the function's result "
                f"(keys: {sorted(result)})"
            )
        out[name] = _typed(result[name], item.get("OutputType", "String"), name)
    return out


def _typed(value: Any, kind: str, name: str) -> Any:
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except (TypeError, ValueError):
        raise LambdaError(f"output parameter {name!r} = {value!r} is not {kind}") from None
    return value if isinstance(value, str) else json.dumps(value)


def run_step(executor: Any, step: Any, rec: Any) -> None:
    """The function's handler, run locally on the step's inputs (lambda_step)."""
    arn = step.raw.get("FunctionArn")
    event = executor._evaluate(step)
    rec.arguments = event
    result, _logs = invoke(
        getattr(executor.sm, "account_id", "123456789012"),
        getattr(executor.sm, "region", "us-east-1"),
        str(arn),
        event,
        executor.sm.aws.env() if hasattr(executor.sm, "aws") else {},
    )
    outputs = output_parameters(result, step.raw.get("OutputParameters") or [])
    with executor.record.lock:
        rec.outputs = outputs
        rec.metadata = {
            "Lambda": {
                "Arn": str(arn),
                "OutputParameters": [
                    {"Name": k, "Value": v if isinstance(v, str) else json.dumps(v)}
                    for k, v in outputs.items()
                ],
            }
        }


def _function(account_id: str, region: str, function: str) -> Any:
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[account_id][region].get_function(function)
    except Exception as exc:
        raise LambdaError(
            f"Lambda function {function!r} does not exist in the simulator's AWS; create it "
            f"first (boto3 lambda create_function with a zip): {exc}"
        ) from None


__all__ = ["LambdaError", "invoke", "output_parameters", "run_step"]
