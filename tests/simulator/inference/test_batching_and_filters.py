"""Record splitting, mini-batches and DataProcessing, on the developer guide's own examples."""

from __future__ import annotations

import json
import struct

import pytest

from simulator.inference.batching import MB, SplitError, batches, split_records
from simulator.inference.dataprocessing import DataProcessing, DataProcessingError, JsonFilter


def _frame(payload: bytes) -> bytes:
    return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def test_line_split_keeps_each_records_newline_and_skips_blank_lines():
    assert split_records(b"a,1\n\nb,2\r\nc,3", "Line") == [b"a,1\n", b"b,2\r\n", b"c,3\n"]
    assert split_records(b"whole\nobject", "None") == [b"whole\nobject"]


def test_recordio_split_yields_whole_padded_frames():
    frames = [_frame(b"abc"), _frame(b"defgh"), _frame(b"")]
    assert split_records(b"".join(frames), "RecordIO") == frames
    with pytest.raises(SplitError, match="not a RecordIO frame at byte 0"):
        split_records(b"plain text here", "RecordIO")


def test_multirecord_fills_requests_up_to_max_payload():
    records = [b"x" * (MB // 3)] * 7  # three fit in 1 MB, a fourth does not
    sizes = [len(b.records) for b in batches(records, "MultiRecord", 1)]
    assert sizes == [3, 3, 1]
    assert [b.first for b in batches(records, "MultiRecord", 1)] == [1, 4, 7]
    assert [len(b.records) for b in batches(records, "SingleRecord", 1)] == [1] * 7
    with pytest.raises(SplitError, match="record 2 is .* over MaxPayloadInMB"):
        list(batches([b"a", b"x" * (MB + 1)], "MultiRecord", 1))


def test_csv_input_filter_join_and_output_filter():
    # The guide's CSV example: drop the id for the model, keep id and prediction.
    dp = DataProcessing.from_request(
        {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    )
    record = b'id-7,"hello, world",3.5\n'
    assert dp.filter_input(record, "text/csv") == b'"hello, world",3.5'
    assert dp.output(record, b"0.25,0.75", "text/csv", "text/csv") == b"id-7,0.75"
    everything = DataProcessing.from_request({"JoinSource": "Input"})
    joined = everything.output(record, b"0.25,0.75", "text/csv", "text/csv")
    assert joined == b'id-7,"hello, world",3.5,0.25,0.75'
    mixed = DataProcessing.from_request({"JoinSource": "Input", "OutputFilter": "$[0,3:]"})
    assert mixed.output(record, b"0.25,0.75", "text/csv", "text/csv") == b"id-7,0.25,0.75"


def test_json_join_adds_sagemaker_output_or_wraps_non_objects():
    dp = DataProcessing.from_request(
        {
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        }
    )
    record = b'{"id": 3, "features": [1, 2], "note": "x"}\n'
    assert json.loads(dp.filter_input(record, "application/json")) == [1, 2]
    out = dp.output(record, b'{"p": 0.9}', "application/json", "application/json")
    assert json.loads(out) == {"id": 3, "SageMakerOutput": {"p": 0.9}}
    wrap = DataProcessing.from_request({"JoinSource": "Input"})
    out = wrap.output(b"[1, 2]", b"0.9", "application/json", "application/json")
    assert json.loads(out) == {"SageMakerInput": [1, 2], "SageMakerOutput": 0.9}


def test_output_filter_without_join_applies_to_the_prediction():
    dp = DataProcessing.from_request({"OutputFilter": "$[1]"})
    assert dp.output(b"ignored\n", b"0.25,0.75", "text/csv", "text/csv") == b"0.75"


def test_index_outside_the_record_is_an_error_and_bad_paths_fail_at_compile():
    dp = DataProcessing.from_request({"JoinSource": "Input", "OutputFilter": "$[9]"})
    with pytest.raises(DataProcessingError, match=r"selects nothing"):
        dp.output(b"a,b\n", b"1", "text/csv", "text/csv")
    with pytest.raises(DataProcessingError, match="not a JSONPath expression"):
        JsonFilter("$[[")
