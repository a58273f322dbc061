"""realtime/connection.py: the send queue, its flush path, the 4408 bound and conflation."""

from __future__ import annotations

import orjson

from productdemo.realtime.connection import Connection, Principal, State
from productdemo.realtime.metrics import RealtimeMetrics
from productdemo.realtime.ratelimit import TokenBucket
from productdemo.realtime.transport import text_frame
from tests.support import RecordingTransport, parse_frame


def _conn(max_queue: int = 8) -> tuple[Connection, RecordingTransport, list[Connection]]:
    socket = RecordingTransport()
    dirty: list[Connection] = []
    conn = Connection(
        "c_test",
        Principal(1, "ann", "user", "h"),
        socket,
        TokenBucket(10, 10, 10),
        max_queue,
        dirty.append,
        RealtimeMetrics(),
    )
    return conn, socket, dirty


def _frame(n: int) -> bytes:
    return text_frame(orjson.dumps({"n": n}))


def _messages(data: bytes) -> list[dict[str, object]]:
    out = []
    while (parsed := parse_frame(data)) is not None:
        out.append(orjson.loads(parsed[0][1]))
        data = data[parsed[1] :]
    return out


def test_a_tick_of_frames_is_one_write() -> None:
    """Frames queued in one tick are marked dirty once and written in a single write."""
    conn, socket, dirty = _conn()
    for n in range(3):
        conn.enqueue(_frame(n))
    assert dirty == [conn]
    conn.flush()
    assert socket.written == [_frame(0) + _frame(1) + _frame(2)]


def test_a_burst_to_a_writable_socket_is_not_punished() -> None:
    """More frames than the bound in one tick are flushed, not closed, while the socket keeps up."""
    conn, socket, _ = _conn(max_queue=8)
    for n in range(50):
        conn.enqueue(_frame(n))
    conn.flush()
    assert socket.closed is None
    assert len(_messages(socket.written[0])) == 50


def test_stalled_socket_waits_then_closes_with_4408() -> None:
    """While paused nothing is written; past the bound the socket is closed with 4408."""
    conn, socket, _ = _conn(max_queue=8)
    conn.on_pause()
    for n in range(8):
        conn.enqueue(_frame(n))
    conn.flush()
    assert socket.written == []
    conn.enqueue(_frame(8))
    assert socket.closed == (4408, "send queue full")
    assert conn.state is State.CLOSING
    assert conn.pending is None


def test_resume_writing_flushes_what_waited() -> None:
    """When the transport drains, the queued frames are marked dirty and written."""
    conn, socket, dirty = _conn()
    conn.on_pause()
    conn.enqueue(_frame(1))
    assert dirty == []
    conn.on_resume()
    assert dirty == [conn]
    conn.flush()
    assert socket.written == [_frame(1)]


def test_conflation_keeps_the_newest_state_and_announces_skips() -> None:
    """While stalled, a newer state event replaces a queued one with the same key; the flush
    leads with a skipped notice naming the superseded seqs."""
    conn, socket, _ = _conn(max_queue=8)
    conn.on_pause()
    conn.enqueue_state(_frame(1), "doc:a", "user:1", 1)
    conn.enqueue(_frame(2))
    conn.enqueue_state(_frame(3), "doc:b", "user:1", 3)
    conn.enqueue_state(_frame(4), "doc:a", "user:1", 4)
    conn.enqueue_state(_frame(5), "doc:a", "user:1", 5)
    conn.on_resume()
    conn.flush()
    assert _messages(socket.written[0]) == [
        {"type": "skipped", "payload": {"stream": "user:1", "seqs": [1, 4]}},
        {"n": 2},
        {"n": 3},
        {"n": 5},
    ]


def test_conflation_keeps_the_newest_state_of_each_stream() -> None:
    """The same state sent on two streams (a user's and a document's) is conflated per
    stream: neither stream's newest copy replaces the other's."""
    conn, socket, _ = _conn(max_queue=8)
    conn.on_pause()
    conn.enqueue_state(_frame(1), "doc:a", "user:1", 7)
    conn.enqueue_state(_frame(2), "doc:a", "topic:document:a", 3)
    conn.enqueue_state(_frame(3), "doc:a", "user:1", 8)
    conn.enqueue_state(_frame(4), "doc:a", "topic:document:a", 4)
    conn.on_resume()
    conn.flush()
    assert _messages(socket.written[0]) == [
        {"type": "skipped", "payload": {"stream": "user:1", "seqs": [7]}},
        {"type": "skipped", "payload": {"stream": "topic:document:a", "seqs": [3]}},
        {"n": 3},
        {"n": 4},
    ]


def test_conflation_bounds_a_stalled_queue_by_keys() -> None:
    """Thousands of state events for a few keys never fill the queue."""
    conn, socket, _ = _conn(max_queue=8)
    conn.on_pause()
    for seq in range(1, 5001):
        conn.enqueue_state(_frame(seq), f"doc:{seq % 5}", "user:1", seq)
    assert socket.closed is None
    assert conn.queued() <= 2 * 64 + 5
    conn.on_resume()
    conn.flush()
    messages = _messages(socket.written[0])
    notice = messages[0]
    assert notice["type"] == "skipped"
    assert [m["n"] for m in messages[1:]] == [4996, 4997, 4998, 4999, 5000]
    assert len(notice["payload"]["seqs"]) == 4995  # type: ignore[index]


def test_unkeyed_events_still_close_a_stalled_socket() -> None:
    """Events that must not be merged are never dropped: past the bound the socket closes."""
    conn, socket, _ = _conn(max_queue=8)
    conn.on_pause()
    for n in range(20):
        conn.enqueue_state(_frame(n), "doc:a", "user:1", n + 1)
    for n in range(8):
        conn.enqueue(_frame(100 + n))
    assert socket.closed == (4408, "send queue full")


def test_closed_connection_queues_nothing() -> None:
    """After close, enqueue is ignored and nothing more is written."""
    conn, socket, _ = _conn()
    conn.close(4401, "logout")  # type: ignore[arg-type]
    conn.enqueue(_frame(1))
    conn.flush()
    assert socket.written == []
    assert socket.closed == (4401, "logout")
