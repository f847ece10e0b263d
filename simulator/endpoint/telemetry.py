"""What a job run writes to CloudWatch, as the service does: its log lines to CloudWatch
Logs and each MetricDefinitions match to CloudWatch metrics.

* Logs: group ``/aws/sagemaker/<Kind>Jobs``, stream ``<job>/algo-1-<epoch>``, where the
  SDK's ``logs=True`` / ``Session().logs_for_job()`` and any logs client read them.
* Metrics: namespace ``/aws/sagemaker/TrainingJobs``, dimensions ``TrainingJobName`` and
  ``Host``, one datum per matching line, timestamped when the line was read; what the
  SDK's ``TrainingJobAnalytics`` (``estimator.training_job_analytics.dataframe()``) reads
  with GetMetricStatistics.

Both are written into moto's backends in this process (no HTTP round trip per line),
under one lock: moto's stores are not thread-safe, and they are one per process (two
simulators of one process share them, so the lock is the process's too).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from simulator.hosts.launcher import LineSink

METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
MetricSink = Callable[[str, float, dt.datetime], None]
_MOTO_LOCK = threading.Lock()  # moto's backends are per process: so is their lock


class CloudWatch:
    """The embedded CloudWatch Logs and metrics of one account and region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self._lock = _MOTO_LOCK

    def log_sink(self, group: str, stream: str) -> LineSink:
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account_id][self.region]
        with self._lock:
            if group not in backend.groups:
                backend.create_log_group(group, tags={})
            # A stream that exists already (a Spot restart within the same second, or a
            # job of that name in another simulator of this process) is appended to.
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)

        def sink(line: str) -> None:
            event = {"timestamp": int(time.time() * 1000), "message": line}
            with self._lock:
                backend.put_log_events(group, stream, [event])

        return sink

    def metric_sink(self, job_name: str, host: str) -> MetricSink:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[self.account_id][self.region]
        dimensions = [
            {"Name": "TrainingJobName", "Value": job_name},
            {"Name": "Host", "Value": host},
        ]

        def sink(name: str, value: float, timestamp: dt.datetime) -> None:
            datum = {
                "MetricName": name,
                "Value": value,
                # moto keeps naive UTC times (its utcnow()) and compares queries with them.
                "Timestamp": timestamp.astimezone(dt.UTC).replace(tzinfo=None),
                "Dimensions": dimensions,
                "Unit": "None",
            }
            with self._lock:
                backend.put_metric_data(METRICS_NAMESPACE, [datum])

        return sink
