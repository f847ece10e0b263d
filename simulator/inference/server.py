"""One served model: its host tree, its server process, requests to it.

The service's way of starting a hosting container, without Docker:

* ``ModelDataUrl`` (a ``model.tar.gz``) is extracted into the host tree's
  ``model/`` (the container's ``/opt/ml/model``); the framework toolkits find the
  inference code in its ``code/`` (the SDK repacks ``entry_point``/``source_dir``
  there), or in ``SAGEMAKER_SUBMIT_DIRECTORY`` — an S3 ``sourcedir.tar.gz`` (older
  framework versions) is unpacked into ``model/code``;
* the container's ``Environment`` is the process's, with ``SAGEMAKER_BIND_TO_PORT``
  set to a free port so that many servers run side by side (the service sets it for
  multi-container endpoints), and ``SAGEMAKER_BASE_DIR`` at the tree;
* the server is ready when ``GET /ping`` answers 200; a process that exits first
  failed to load the model, and its log tail says why;
* ``launch`` may start the process before ``prepare``: it loads its own modules
  (uvicorn's) while the model downloads, and touches the model only once ``start``
  releases it (``serve.py``'s hold) — the service, too, pulls the serving image while
  the model artifacts download.

The image decides the interpreter (``images.py``), which must have starlette and
uvicorn (the interpreter running smsim does).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.hosts.keeper import keeper_argv
from simulator.hosts.launcher import LineSink
from simulator.hosts.layout import (
    CONTAINER_ROOT,
    HOST_NAME,
    HostLayout,
    base_env,
    map_container_path,
)
from simulator.hosts.local import REMAP_HOOK_DIR
from simulator.images import ImageMap
from simulator.s3 import download_object, parse_s3_uri, unpack_tar_gz

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL_LINES = 30
HOLD_ENV = "SMSIM_SERVE_HOLD"  # serve.py's: load nothing of the model before stdin's go
LOADED_LINE = "model server: model loaded"  # serve.py's line just before it binds the port


class ModelServerError(SmsimError):
    """The model server could not start, or died."""


@dataclass(frozen=True)
class Invocation:
    """The server's answer to one POST /invocations."""

    status: int
    body: bytes
    content_type: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ModelServer:
    """A model server process for one container definition (``PrimaryContainer``)."""

    def __init__(
        self,
        root: Path,
        container: dict[str, Any],
        *,
        s3: Any,
        aws_env: dict[str, str],
        images: ImageMap,
        sink: LineSink,
        prefix: str,
        log_dir: Path,
        environment: dict[str, str] | None = None,
        concurrency: int = 4,
        launcher: Any = None,
    ) -> None:
        self.layout = HostLayout(root)
        self.container = container
        self.s3 = s3
        self.aws_env = aws_env
        self.images = images
        self.sink = sink
        self.prefix = prefix
        self.log_dir = log_dir
        self.environment = {**container.get("Environment", {}), **(environment or {})}
        # A host launcher (hosts/local.py): in "namespace" mode the server runs in a private
        # mount namespace where its tree is /opt/ml, as a job's process does.
        self.launcher = launcher
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._pump: threading.Thread | None = None
        self._loaded = threading.Event()  # the server's LOADED_LINE was read
        import urllib3

        self._http = urllib3.PoolManager(maxsize=max(1, concurrency), block=True, retries=False)

    # -- start ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Extract the model (and an S3 submit directory) into the host tree."""
        model_dir = self.layout.model_dir
        model_dir.mkdir(parents=True, exist_ok=True)
        url = self.container.get("ModelDataUrl")
        if url:
            archive = download_object(
                self.s3, parse_s3_uri(url, "ModelDataUrl"), self.layout.root / "model.tar.gz"
            )
            unpack_tar_gz(archive, model_dir)
            archive.unlink()
        submit = self.environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if submit.startswith("s3://"):
            archive = download_object(
                self.s3,
                parse_s3_uri(submit, "SAGEMAKER_SUBMIT_DIRECTORY"),
                self.layout.root / "sourcedir.tar.gz",
            )
            unpack_tar_gz(archive, model_dir / "code")
            archive.unlink()
        elif submit and map_container_path(submit, self.layout.root) is None:
            raise ModelServerError(
                f"Environment.SAGEMAKER_SUBMIT_DIRECTORY {submit!r} is neither an S3 URI nor a "
                "path under /opt/ml; use /opt/ml/model/code (code packed in model.tar.gz)"
            )

    def launch(self) -> None:
        """Start the process, held: it loads its own modules, not yet the model."""
        if self.process is not None:
            return
        interpreter = self.images.interpreter(self.container.get("Image"))
        env = base_env(self.aws_env, interpreter, None)
        root = str(self.layout.root)
        argv = [interpreter, "-m", "simulator.inference.serve"]
        paths = [str(REPO_ROOT), env.get("PYTHONPATH", "")]
        if getattr(self.launcher, "mode", "fallback") == "namespace":
            from simulator.hosts import namespace

            env["SAGEMAKER_BASE_DIR"] = CONTAINER_ROOT
            env.update({k: str(v) for k, v in self.environment.items()})
            hosts = namespace.write_etc_hosts(self.layout.root.parent / "etc-hosts", [HOST_NAME])
            argv = namespace.wrap(
                self.launcher.support, self.layout.root, argv, CONTAINER_ROOT, hosts, env
            )
        else:
            # The fallback launcher's conventions (hosts/local.py): SAGEMAKER_BASE_DIR (the
            # toolkits' own override of /opt/ml) and the remap hook for hard-coded /opt/ml.
            env["SAGEMAKER_BASE_DIR"] = root
            env["SMSIM_OPT_ML_ROOT"] = root
            paths.append(str(REMAP_HOOK_DIR))
            env.update({k: str(v) for k, v in self.environment.items()})
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.port = free_port()
        env["SAGEMAKER_BIND_TO_PORT"] = str(self.port)
        env[HOLD_ENV] = "1"
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            keeper_argv(argv),  # the server dies with the simulator (hosts/keeper.py)
            cwd=self.layout.root,
            env=env,
            stdin=subprocess.PIPE,  # the hold: one line releases it, then it is /dev/null
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a stop reaches what it started
        )
        self._pump = threading.Thread(target=self._read_log, daemon=True)
        self._pump.start()

    def release(self) -> None:
        """Let the launched server load the model (``prepare`` has put it in place)."""
        self.launch()
        assert self.process is not None and self.process.stdin is not None
        if not self.process.stdin.closed:
            with contextlib.suppress(OSError):  # it died already: wait_ready says why
                self.process.stdin.write(b"go\n")
                self.process.stdin.flush()
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until ``/ping`` answers 200 (ModelServerError if the process exits first)."""
        assert self.process is not None and self._pump is not None
        deadline = time.monotonic() + timeout
        delay = 0.005
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._pump.join(timeout=5)
                raise ModelServerError(
                    f"the model server exited with code {self.process.returncode} before "
                    "answering /ping (the model failed to load):\n" + "\n".join(self.tail)
                )
            if not self._loaded.is_set():
                # Loading: no ping can answer before the server says the model is loaded
                # (its line wakes this wait at once); look at the process now and then.
                self._loaded.wait(0.05)
                continue
            if self.ping():
                return
            # The port opens moments after that line: a tight backoff, not a fixed sleep.
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        self.stop()
        raise ModelServerError(f"the model server did not answer /ping within {timeout:.0f} s")

    def start(self, timeout: float = 120.0) -> None:
        """Start the process (unless launched), release it and wait until ``/ping``
        answers 200."""
        self.release()
        self.wait_ready(timeout)

    def _read_log(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        host = self.prefix.rsplit("/", 1)[-1]
        with open(self.log_dir / f"{host}.log", "a", encoding="utf-8") as log:
            for raw in iter(self.process.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                log.write(line + "\n")
                log.flush()
                self.tail.append(line)
                if line.startswith(LOADED_LINE):
                    self._loaded.set()
                self.sink(f"[{self.prefix}] {line}")

    # -- requests ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ping(self) -> bool:
        try:
            response = self._http.request("GET", self.url + "/ping", timeout=2.0)
        except Exception:  # noqa: BLE001 - not listening yet
            return False
        return bool(response.status == 200)

    def invoke(
        self,
        body: bytes,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        timeout: float = 60.0,
    ) -> Invocation:
        """POST /invocations; a dead or silent server raises ModelServerError."""
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        try:
            response = self._http.request(
                "POST", self.url + "/invocations", body=body, headers=headers, timeout=timeout
            )
        except Exception as exc:  # noqa: BLE001 - timeouts, refused connections
            dead = self.process is not None and self.process.poll() is not None
            state = f"exited with code {self.process.returncode}" if dead else "is running"
            raise ModelServerError(
                f"no answer from the model server ({state}): {type(exc).__name__}: {exc}"
            ) from exc
        return Invocation(response.status, response.data, response.headers.get("Content-Type"))

    # -- stop -------------------------------------------------------------------------
    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the server's process group, SIGKILL after ``grace`` seconds."""
        proc = self.process
        if proc is None:
            return
        if proc.stdin is not None:  # launched, never released: SIGTERM ends its hold
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if self._pump is not None:
            self._pump.join(timeout=5)
        self._http.clear()

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
