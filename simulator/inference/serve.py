"""The model server process: SageMaker's hosting contract over uvicorn + starlette.

    python -m simulator.inference.serve      (started by ``server.ModelServer``)

The contract a hosting container honours (developer guide, "Use your own inference
code with hosting services"): ``GET /ping`` answers 200 once the model is loaded;
``POST /invocations`` takes the request body with its ``Content-Type`` and
``Accept`` and answers the prediction; the port is 8080, or ``SAGEMAKER_BIND_TO_PORT``
as the service sets it for multi-container endpoints. The model is loaded before the
port opens, so a ping never answers for a model that failed to load (the process
exits 1 with the traceback in its log). Paths follow ``SAGEMAKER_BASE_DIR`` (the
toolkit's own override of ``/opt/ml``): the model is ``<base>/model``, the code
``<base>/model/code`` unless ``SAGEMAKER_SUBMIT_DIRECTORY`` names a local directory.

Launched held (``SMSIM_SERVE_HOLD``, by ``ModelServer.launch``), the process first loads
the server's own modules (uvicorn's included), then waits for a line on its stdin
before it touches the model: the launcher downloads and extracts the model meanwhile,
as the service pulls the serving image while the model artifacts download. The user's
code sees what it would unheld: the model in place, stdin at ``/dev/null``, no
``SMSIM_*`` variable of this protocol.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.inference.handlers import HandlerError, Handlers

DEFAULT_PORT = 8080
CONTAINER_ROOT = "/opt/ml"
HOLD_ENV = "SMSIM_SERVE_HOLD"  # set by ModelServer.launch: wait for stdin's go


def _code_dir(base: Path, model_dir: Path) -> Path:
    submit = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submit and "://" not in submit:
        norm = os.path.normpath(submit)
        if norm == CONTAINER_ROOT or norm.startswith(CONTAINER_ROOT + "/"):
            return base / os.path.relpath(norm, CONTAINER_ROOT)
        return Path(norm)
    return model_dir / "code"


def build_app(handlers: Callable[[], Handlers]) -> Starlette:
    """The hosting contract's two routes; ``handlers()`` is the loaded model (the app is
    built, and uvicorn's modules loaded, before the model is)."""

    def ping(request: Request) -> Response:
        return Response(b"", status_code=200)

    async def invocations(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            # Handlers are blocking (model code): a thread each, as many as the client sends.
            out, content_type = await run_in_threadpool(
                handlers().invoke,
                body,
                headers.get("content-type"),
                headers.get("accept"),
                headers,
            )
        except HandlerError as exc:
            return Response(exc.body.encode(), status_code=exc.status, media_type="text/plain")
        # As given: starlette would add "; charset=utf-8" to a media_type of text/*.
        return Response(out, status_code=200, headers={"Content-Type": content_type})

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
        ]
    )


def _wait_for_release() -> bool:
    """Block until the launcher's go line (False: stdin closed without it, nothing to
    serve); then stdin is /dev/null, as an unheld server's."""
    go = sys.stdin.buffer.readline()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return bool(go.strip())


def main() -> int:
    base = Path(os.environ.get("SAGEMAKER_BASE_DIR", CONTAINER_ROOT))
    model_dir = base / "model"
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT))
    host = os.environ.get("SMSIM_BIND_HOST", "127.0.0.1")
    loaded: list[Handlers] = []
    config = uvicorn.Config(
        build_app(lambda: loaded[0]),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    config.load()  # uvicorn's protocol modules: while the model may still be extracting
    if os.environ.pop(HOLD_ENV, None) and not _wait_for_release():
        return 0
    try:
        loaded.append(
            Handlers(model_dir, _code_dir(base, model_dir), os.environ.get("SAGEMAKER_PROGRAM"))
        )
    except Exception:  # noqa: BLE001 - reported in the log, the host side reads it
        traceback.print_exc()
        print("model server: loading the model failed", file=sys.stderr, flush=True)
        return 1
    print(f"model server: model loaded, listening on {host}:{port}", flush=True)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # a SIGINT uvicorn re-raises after shutdown
        server.run()
    return 0 if server.started else 3  # uvicorn.run's STARTUP_FAILURE (e.g. port taken)


if __name__ == "__main__":
    sys.exit(main())
