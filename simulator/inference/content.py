"""The inference toolkits' default decoders and encoders, by content type.

Used by the model server when the user's module lacks ``input_fn`` / ``output_fn``,
with the semantics of aws/sagemaker-inference-toolkit's ``decoder.py`` and
``encoder.py``: ``application/json`` ↔ ``json`` + ``np.array``, ``text/csv`` ↔
``np.genfromtxt`` / ``np.savetxt(fmt="%s")``, ``application/x-npy`` ↔ ``np.load`` /
``np.save``. The content type must match exactly (the toolkit does no parameter
parsing); an ``Accept`` header may list several types, the first supported wins.

numpy is imported lazily: this module runs inside the server process.
"""

from __future__ import annotations

import io
import json
from typing import Any

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)  # bodies the toolkit hands to handlers as str, not bytes


class UnsupportedFormatError(Exception):
    """The toolkit's error for a content type without a default decoder/encoder."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__(
            f"Content type {content_type} is not supported by this framework. Please implement "
            "input_fn to deserialize the request data or an output_fn to serialize the response."
        )


def decode(data: str | bytes, content_type: str | None) -> Any:
    """The default ``input_fn``: a numpy array from a JSON, CSV or NPY body."""
    import numpy as np

    if content_type == JSON:
        return np.array(json.loads(data))
    if content_type == CSV:
        text = data if isinstance(data, str) else data.decode("utf-8")
        return np.genfromtxt(io.StringIO(text), delimiter=",")
    if content_type == NPY:
        raw = data.encode() if isinstance(data, str) else data
        return np.load(io.BytesIO(raw), allow_pickle=True)
    raise UnsupportedFormatError(content_type)


def parse_accept(accept: str) -> list[str]:
    """``"a, b"`` → ``["a", "b"]`` (the toolkit's ``utils.parse_accept``)."""
    return accept.replace(" ", "").split(",")


def encode(prediction: Any, accept: str) -> tuple[bytes, str]:
    """The default ``output_fn``: the first supported type of ``accept`` and the body."""
    import numpy as np

    for content_type in parse_accept(accept):
        if content_type == JSON:

            def default(value: Any) -> Any:
                if hasattr(value, "tolist"):
                    return value.tolist()
                raise TypeError(f"{type(value).__name__} is not JSON serializable")

            return json.dumps(prediction, default=default).encode(), JSON
        if content_type == CSV:
            stream = io.StringIO()
            np.savetxt(stream, prediction, delimiter=",", fmt="%s")
            return stream.getvalue().encode(), CSV
        if content_type == NPY:
            buffer = io.BytesIO()
            np.save(buffer, prediction)
            return buffer.getvalue(), NPY
    raise UnsupportedFormatError(accept)
