"""realtime/protocol.py: text in, typed frames out; frames in, bytes out."""

from __future__ import annotations

import orjson
import pytest

from productdemo.realtime.protocol import (
    CloseCode,
    PingFrame,
    ProtocolError,
    ResumeFrame,
    RpcFrame,
    SubscribeFrame,
    error_frame,
    event_frame,
    parse_client_frame,
)


def _error(text: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(text)
    return info.value


def test_ping_parses_with_its_id() -> None:
    """A ping with a string id parses to PingFrame keeping the id."""
    assert parse_client_frame('{"type":"ping","id":"7"}') == PingFrame(type="ping", id="7")


def test_integer_ids_are_kept() -> None:
    """An integer id is accepted and kept as an integer."""
    assert parse_client_frame('{"type":"ping","id":12}').id == 12


def test_subscribe_parses() -> None:
    """A subscribe frame yields its topic."""
    frame = parse_client_frame('{"type":"subscribe","id":"3","payload":{"topic":"document:d_12"}}')
    assert isinstance(frame, SubscribeFrame)
    assert frame.payload.topic == "document:d_12"


def test_resume_parses_positions() -> None:
    """A resume frame yields a position per stream."""
    frame = parse_client_frame(
        '{"type":"resume","id":"5","payload":{"streams":{"user:7":{"epoch":"e1","seq":18},"all":{"epoch":"x","seq":0}}}}'
    )
    assert isinstance(frame, ResumeFrame)
    assert frame.payload.streams["user:7"].seq == 18


def test_rpc_defaults_params() -> None:
    """An rpc frame without params gets an empty params object."""
    frame = parse_client_frame('{"type":"rpc","id":"6","payload":{"method":"session.info"}}')
    assert isinstance(frame, RpcFrame)
    assert frame.payload.params == {}


def test_invalid_json_is_bad_request() -> None:
    """Text that is not JSON is a bad_request naming the JSON error."""
    err = _error("{nope")
    assert err.code == "bad_request"
    assert err.message.startswith("invalid JSON")


def test_non_object_is_bad_request() -> None:
    """A JSON array is refused: a frame must be an object."""
    err = _error("[1,2]")
    assert (err.code, err.message) == ("bad_request", "a frame must be a JSON object")


def test_unknown_type_keeps_the_id() -> None:
    """An unknown type is unknown_type and the error carries the request's id."""
    err = _error('{"type":"launch","id":"9"}')
    assert err.code == "unknown_type"
    assert err.frame_id == "9"
    assert "'launch'" in err.message


def test_missing_type_is_bad_request() -> None:
    """A frame without a type is a bad_request."""
    err = _error('{"id":"1"}')
    assert (err.code, err.message, err.frame_id) == ("bad_request", "missing 'type'", "1")


def test_bad_payload_names_the_field() -> None:
    """A subscribe whose topic breaks the pattern names payload.topic."""
    err = _error('{"type":"subscribe","id":"3","payload":{"topic":"<script>"}}')
    assert err.code == "bad_request"
    assert err.frame_id == "3"
    assert err.message.startswith("payload.topic:")


def test_extra_fields_are_refused() -> None:
    """Unknown payload fields are refused rather than ignored."""
    err = _error('{"type":"subscribe","payload":{"topic":"a:b","evil":1}}')
    assert "payload.evil" in err.message


@pytest.mark.parametrize("bad_id", ['""', "true", "-1", '"' + "x" * 65 + '"', "{}"])
def test_bad_ids_are_refused(bad_id: str) -> None:
    """An id must be a short non-empty string or a non-negative integer."""
    err = _error('{"type":"ping","id":' + bad_id + "}")
    assert err.code == "bad_request"
    assert err.frame_id is None


def test_resume_of_a_malformed_stream_is_refused() -> None:
    """Stream names in resume must be user:<id>, topic:<name> or all."""
    err = _error('{"type":"resume","payload":{"streams":{"user:abc":{"epoch":"e","seq":1}}}}')
    assert err.code == "bad_request"


def test_event_frame_is_valid_json_with_position() -> None:
    """event_frame assembles type, payload, stream and seq into one JSON object."""
    frame = event_frame("notification", b'{"message":"hi"}', "user:7", 18)
    assert orjson.loads(frame) == {
        "type": "notification",
        "payload": {"message": "hi"},
        "stream": "user:7",
        "seq": 18,
    }


def test_error_frame_omits_a_missing_id() -> None:
    """An error without a request id has no id key."""
    assert orjson.loads(error_frame("internal", "boom")) == {
        "type": "error",
        "payload": {"code": "internal", "message": "boom"},
    }


def test_close_codes_match_the_design() -> None:
    """The close codes are those of DESIGN.md, plus 1007 for text that is not UTF-8."""
    assert [int(c) for c in CloseCode] == [1001, 1007, 1008, 1009, 1013, 4401, 4403, 4408, 4429]
