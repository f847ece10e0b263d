"""Records and mini-batches of a transform job's input objects.

The service's rules (CreateTransformJob, TransformInput / BatchStrategy):

* ``SplitType`` ``None``: an object is one record, sent in one request;
  ``Line``: each line is a record (the newline is its end); ``RecordIO``: each
  RecordIO frame (magic ``0xced7230a``, length, payload padded to 4 bytes) is one;
* ``BatchStrategy`` ``SingleRecord``: one record per request; ``MultiRecord``: as many
  consecutive records as fit in ``MaxPayloadInMB`` per request (frames kept as they
  are, lines joined with their newlines); a single record larger than the limit
  fails the job;
* ``AssembleWith`` ``Line``: each response ends with a newline in the output object;
  ``None``: responses are concatenated as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

RECORDIO_MAGIC = 0xCED7230A
MB = 1024 * 1024


class SplitError(ValueError):
    """An input object that cannot be split or batched as the job asks."""


@dataclass(frozen=True)
class Batch:
    """Consecutive records of one object: the request body and where they came from."""

    records: list[bytes]
    first: int  # 1-based number of the first record in its object

    @property
    def body(self) -> bytes:
        return b"".join(self.records)


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """The records of one object, each with its own terminator (newline, padding)."""
    if split_type == "None":
        return [data] if data else []
    if split_type == "Line":
        lines = data.splitlines(keepends=True)
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            lines[-1] += b"\n"
        return [line for line in lines if line.strip()]
    if split_type == "RecordIO":
        return list(_recordio_frames(data))
    raise SplitError(f"SplitType {split_type!r} is not supported; use None, Line or RecordIO")


def _recordio_frames(data: bytes) -> Iterator[bytes]:
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise SplitError(f"truncated RecordIO header at byte {offset}")
        magic, word = struct.unpack_from("<II", data, offset)
        if magic != RECORDIO_MAGIC:
            raise SplitError(
                f"not a RecordIO frame at byte {offset} (magic {magic:#x}, expected "
                f"{RECORDIO_MAGIC:#x}); set SplitType to match the data"
            )
        length = word & ((1 << 29) - 1)  # the upper 3 bits are the continuation flag
        end = offset + 8 + length + (-length % 4)
        if end > len(data):
            raise SplitError(f"truncated RecordIO frame at byte {offset}")
        yield data[offset:end]
        offset = end


def batches(records: list[bytes], strategy: str, max_payload_mb: int) -> Iterator[Batch]:
    """Group records into requests under ``MaxPayloadInMB`` (0 = no limit, the service's
    rule for streaming models)."""
    limit = max_payload_mb * MB if max_payload_mb else None
    current: list[bytes] = []
    size = 0
    first = 1
    for number, record in enumerate(records, start=1):
        if limit is not None and len(record) > limit:
            raise SplitError(
                f"record {number} is {len(record)} bytes, over MaxPayloadInMB "
                f"({max_payload_mb} MB); raise MaxPayloadInMB or split the data finer"
            )
        if strategy != "MultiRecord":
            yield Batch([record], number)
            continue
        if current and limit is not None and size + len(record) > limit:
            yield Batch(current, first)
            current, size, first = [], 0, number
        current.append(record)
        size += len(record)
    if current:
        yield Batch(current, first)


def response_lines(body: bytes) -> list[bytes]:
    """One prediction per line of a response (for joining predictions with records)."""
    return [line for line in body.splitlines() if line.strip()]


def assemble(body: bytes, assemble_with: str) -> bytes:
    if assemble_with == "Line":
        return body if body.endswith(b"\n") else body + b"\n"
    return body
