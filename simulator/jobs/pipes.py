"""Pipe input mode: one FIFO per epoch, fed from the channel's objects while the job runs.

SageMaker's rule (developer guide, "How Amazon SageMaker Provides Training Information",
Training Data / Pipe mode): a Pipe channel is read from ``/opt/ml/input/data/<channel>_0``,
then ``<channel>_1``, … — each a named pipe carrying one epoch, the objects one after the
other; the reader reads a pipe to end-of-file (or closes it early once done with the
epoch), then looks for the next one, retrying until it exists. Here a feeder thread per
channel does the service's part:

* the FIFO of epoch 0 exists before the entry point starts; the FIFO of epoch e+1 is
  created *before* epoch e's writer closes, so a reader that meets EOF finds the next
  pipe at once (a reader that retries, as the guide asks, works as well);
* a consumed FIFO is removed (re-opening it would block forever with no writer);
* ``CompressionType: Gzip``: objects are decompressed on the way in (the Channel doc:
  "CompressionType is used only in Pipe input mode") — the opener's job (``channels.py``);
* ``RecordWrapperType: RecordIO``: each object is wrapped in one RecordIO record
  (the Channel doc: "SageMaker wraps each individual S3 object in a RecordIO record"),
  MXNet's framing: magic 0xced7230a, a uint32 of (cflag << 29 | length), the data,
  padding to 4 bytes; an object over 2^29-1 bytes is split into continued parts;
* the epochs never end: SageMaker feeds a new epoch as long as the reader asks.

Writes go through a non-blocking descriptor and ``select`` so that ``stop()`` ends a
feeder whose reader stopped reading; a reader that closes early (EPIPE) just ends the
epoch. A failure to read an object is the feeder's ``error`` (the job fails with it).
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
_POLL = 0.05  # seconds between looks for a reader, and between stop checks while writing
RECORDIO_MAGIC = 0xCED7230A
_RECORDIO_MAX = (1 << 29) - 1  # the 29-bit length field of a RecordIO header


class _Stopped(Exception):
    """The feeder was told to stop while waiting for its reader."""


@dataclass
class PipeFeeder:
    """Feeds the FIFOs ``<base>_0``, ``<base>_1``, … of one channel (``base`` on the host's
    disk); ``epoch_objects(e)`` gives epoch e's objects, ``opener`` opens one for reading."""

    base: Path
    label: str
    epoch_objects: Callable[[int], Iterable[object]]
    opener: Callable[[object], BinaryIO]
    recordio: bool = False
    epochs_fed: int = field(default=0, init=False)
    error: str | None = field(default=None, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _on_error: Callable[[], None] | None = field(default=None, init=False)

    def fifo(self, epoch: int) -> Path:
        return self.base.with_name(f"{self.base.name}_{epoch}")

    def start(self, on_error: Callable[[], None] | None = None) -> None:
        """Create the first epoch's FIFO (now, so the entry point finds it) and feed it."""
        self._on_error = on_error
        self.base.parent.mkdir(parents=True, exist_ok=True)
        _mkfifo(self.fifo(0))
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"smsim-pipe-{self.label}"
        )
        self._thread.start()

    def stop(self) -> None:
        """End the feeder and remove the FIFO it was waiting on."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for epoch in (self.epochs_fed, self.epochs_fed + 1):
            path = self.fifo(epoch)
            if path.is_fifo():
                path.unlink(missing_ok=True)

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        epoch = 0
        try:
            while not self._stop.is_set():
                path = self.fifo(epoch)
                fd = self._open_writer(path)
                try:
                    self._feed_epoch(fd, epoch)
                    # The next epoch's pipe exists before this one's EOF reaches the reader.
                    _mkfifo(self.fifo(epoch + 1))
                finally:
                    os.close(fd)
                    path.unlink(missing_ok=True)
                epoch += 1
                self.epochs_fed = epoch
        except _Stopped:
            return
        except Exception as exc:  # noqa: BLE001 - reported as the job's failure
            self.error = f"Pipe channel {self.label!r}, epoch {epoch}: {exc}"
            if self._on_error is not None:
                self._on_error()

    def _open_writer(self, path: Path) -> int:
        """Open the FIFO's write end once a reader has opened it (ENXIO until then)."""
        while True:
            try:
                return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
            if self._stop.wait(_POLL):
                raise _Stopped

    def _feed_epoch(self, fd: int, epoch: int) -> None:
        try:
            for obj in self.epoch_objects(epoch):
                with self.opener(obj) as stream:
                    if self.recordio:
                        self._write_recordio(fd, stream)
                    else:
                        for chunk in iter(lambda s=stream: s.read(CHUNK), b""):
                            self._write(fd, chunk)
        except BrokenPipeError:
            return  # the reader closed the pipe early: done with this epoch

    def _write_recordio(self, fd: int, stream: BinaryIO) -> None:
        # The header holds the record's length: spool the (decompressed) object first.
        with tempfile.SpooledTemporaryFile(max_size=64 * CHUNK) as spool:
            shutil.copyfileobj(stream, spool, CHUNK)
            size = spool.tell()
            spool.seek(0)
            for cflag, length in recordio_parts(size):
                self._write(fd, struct.pack("<II", RECORDIO_MAGIC, (cflag << 29) | length))
                left = length
                while left:
                    chunk = spool.read(min(CHUNK, left))
                    self._write(fd, chunk)
                    left -= len(chunk)
                self._write(fd, b"\0" * (-length % 4))

    def _write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._stop.is_set():
                raise _Stopped
            _, writable, _ = select.select([], [fd], [], _POLL)
            if not writable:
                continue
            try:
                written = os.write(fd, view[: 64 * 1024])
            except BlockingIOError:
                continue
            view = view[written:]


def recordio_parts(size: int) -> list[tuple[int, int]]:
    """(cflag, length) of the RecordIO parts of a ``size``-byte record: cflag 0 for a whole
    record; 1 (first), 2 (middle), 3 (last) for one split over the 29-bit length limit."""
    if size <= _RECORDIO_MAX:
        return [(0, size)]
    parts = []
    while size > 0:
        parts.append(min(size, _RECORDIO_MAX))
        size -= parts[-1]
    flags = [1] + [2] * (len(parts) - 2) + [3]
    return list(zip(flags, parts, strict=True))


def _mkfifo(path: Path) -> None:
    if path.is_fifo():
        return
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o666)
