"""A job's S3 meeting ``503 SlowDown`` (an injected ``S3SlowDown`` fault, #17).

S3 answers an overloaded prefix with HTTP 503 and the code ``SlowDown`` ("Please reduce
your request rate."); AWS SDKs retry it with backoff. The job gets its own S3 client
whose first ``times`` requests are answered so, before they are sent: botocore's own
retry policy (the simulator's clients: standard mode, 3 attempts) then does what it
does against S3, so a few throttles cost retries and more fail the job with S3's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from simulator.aws import DUMMY_CREDENTIALS

_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class _Body:
    """The raw body botocore reads an answer from (``stream()``, like urllib3's)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self.data


def throttled_client(client: Any, times: int, note: Callable[[str], None]) -> Any:
    """A client like ``client`` (same endpoint, region, config) whose first ``times``
    requests get ``503 SlowDown``; ``note`` hears of each."""
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=client.meta.region_name,
    )
    throttled = session.client(
        "s3", endpoint_url=client.meta.endpoint_url, config=client.meta.config
    )
    left = [times]
    lock = threading.Lock()

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        with lock:
            if left[0] <= 0:
                return None  # sent as usual
            left[0] -= 1
            count = times - left[0]
        note(f"injected fault S3SlowDown: 503 SlowDown for {request.method} ({count}/{times})")
        headers = {"Content-Type": "application/xml", "Content-Length": str(len(_SLOW_DOWN))}
        return AWSResponse(request.url, 503, headers, _Body(_SLOW_DOWN))

    throttled.meta.events.register("before-send.s3", answer)
    return throttled
