"""`smsim serve`: one SageMaker endpoint for every process on the machine.

    smsim serve [--host 127.0.0.1] [--port 5757] [--workspace .smsim] [--s3-endpoint URL]
                [--backend local|ray --ray-address HOST:PORT [--ray-resources FILE]]

Prints the ``export`` lines that point boto3, the SageMaker SDK and the AWS CLI at it,
then serves until Ctrl-C (or SIGTERM), which stops running jobs (they end Stopped,
recorded) and exits cleanly. The workspace is the source of truth: a restarted server
lists and describes every job and pipeline execution recorded there. S3 is moto's, in
memory, unless ``--s3-endpoint`` names an S3-compatible endpoint to use instead.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from simulator.cli.interrupt import EXIT_INTERRUPTED, active_runs, report, settle
from simulator.cli.options import faults_option
from simulator.cli.output import EXIT_OK, EXIT_UNUSABLE, console, emit_json, err_console

# What a user pastes: the endpoint, dummy credentials (no real ones are used), region.
_EXPORTED = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
)


def export_lines(env: dict[str, str]) -> list[str]:
    return [f"export {k}={env[k]}" for k in _EXPORTED if k in env]


def register(main: click.Group) -> None:
    """Add `smsim serve` to `main`."""
    from simulator.endpoint import DEFAULT_PORT

    @main.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        show_default=True,
        help="Port to listen on; 0 picks a free one.",
    )
    @click.option(
        "--workspace",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".smsim"),
        show_default=True,
        help="Where jobs and pipeline executions are recorded (kept across restarts).",
    )
    @click.option(
        "--s3-endpoint",
        metavar="URL",
        default=None,
        help="An S3-compatible endpoint to use instead of the in-memory S3.",
    )
    @click.option("--images", default=None, help="Image URI → interpreter map (YAML/JSON file).")
    @click.option(
        "--stop-grace",
        type=float,
        default=120.0,
        show_default=True,
        help="Seconds a stopped job's script has to exit after SIGTERM.",
    )
    @click.option(
        "--container-mode",
        type=click.Choice(["auto", "namespace", "fallback"]),
        default=None,
        help="How job hosts see /opt/ml (default: $SMSIM_CONTAINER_MODE, else auto).",
    )
    @click.option(
        "--backend",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where training and processing hosts run: this machine, or a Ray cluster.",
    )
    @click.option(
        "--ray-address",
        metavar="HOST:PORT",
        default=None,
        help="The Ray cluster of --backend ray (default: $RAY_ADDRESS).",
    )
    @click.option(
        "--ray-resources",
        metavar="FILE",
        default=None,
        help="JSON overrides of the instance type → Ray resources table (--backend ray).",
    )
    @faults_option("faults_file")
    @click.option("--json", "as_json", is_flag=True, help="Print the start-up facts as JSON.")
    def serve(
        host: str,
        port: int,
        workspace: Path,
        s3_endpoint: str | None,
        images: str | None,
        stop_grace: float,
        container_mode: str | None,
        backend: str,
        ray_address: str | None,
        ray_resources: str | None,
        faults_file: Path | None,
        as_json: bool,
    ) -> None:
        """Serve SageMaker (and S3, IAM, CloudWatch, … through moto) on one local URL."""
        from simulator.endpoint import Endpoint
        from simulator.errors import SmsimError
        from simulator.faults import FaultPlan

        stop = threading.Event()
        try:
            endpoint = Endpoint(
                workspace,
                host=host,
                port=port,
                s3_endpoint=s3_endpoint,
                images=images,
                log_sink=lambda line: err_console.print(line, markup=False, highlight=False),
                stop_grace_seconds=stop_grace,
                container_mode=container_mode,
                backend=backend,
                ray_address=ray_address,
                ray_resources=ray_resources,
            )
            endpoint.backend.pipelines.faults = FaultPlan.coerce(faults_file)
            endpoint.start()
        except SmsimError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise SystemExit(EXIT_UNUSABLE) from None
        # SIGTERM (a supervisor, a test) stops the server as Ctrl-C does. SIGINT gets the
        # same handler explicitly: a process started in the background by a
        # non-interactive shell inherits SIGINT ignored, and Ctrl-C must still stop it.
        received: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            received.append(signum)
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        killed = False
        try:
            _banner(endpoint, s3_endpoint, as_json)
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            received.append(signal.SIGINT)
        finally:
            # From here a second Ctrl-C raises KeyboardInterrupt inside close(): the jobs'
            # processes are killed at once (JobStore.close), their records still end.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, previous[signal.SIGTERM])
            active = active_runs(endpoint.workspace)
            if active:
                err_console.print(f"stopping {len(active)} running job(s)…", highlight=False)
            try:
                endpoint.close()
            except KeyboardInterrupt:
                killed = True  # close() still stopped the embedded AWS (its finally)
            signal.signal(signal.SIGINT, lambda *_: None)  # the report must print
            if active or killed:
                report(settle(endpoint.workspace, active), killed)
            err_console.print("smsim server stopped", highlight=False)
        # 130 = 128 + SIGINT, what shells expect of a command ended by Ctrl-C.
        raise SystemExit(EXIT_INTERRUPTED if signal.SIGINT in received else EXIT_OK)


def _banner(endpoint: Any, s3_endpoint: str | None, as_json: bool) -> None:
    env = endpoint.env()
    s3 = s3_endpoint or "in memory (lost when the server stops; --s3-endpoint URL keeps it)"
    if as_json:
        emit_json(
            {
                "endpoint_url": endpoint.url,
                "workspace": str(endpoint.workspace),
                "recorded": endpoint.loaded,
                "s3": s3_endpoint or "in-memory",
                "backend": endpoint.backend.settings.backend,
                "env": {k: env[k] for k in _EXPORTED if k in env},
            }
        )
    else:
        recorded = ", ".join(f"{n} {what}" for what, n in endpoint.loaded.items())
        console.print(f"smsim serving SageMaker on {endpoint.url}", highlight=False)
        console.print(f"workspace {endpoint.workspace} ({recorded} recorded)", highlight=False)
        console.print(f"S3 is {s3}", highlight=False)
        if endpoint.backend.settings.backend == "ray":
            where = endpoint.backend.settings.ray_address or "$RAY_ADDRESS"
            console.print(f"job hosts run on the Ray cluster at {where}", highlight=False)
        console.print("Point boto3, the SageMaker SDK or the AWS CLI at it:", highlight=False)
        for line in export_lines(env):
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        console.print("Ctrl-C stops running jobs and the server.", highlight=False)
    console.file.flush()
