"""OutputCoalescer: whole characters, coalesced frames with offsets, nothing dropped."""

from __future__ import annotations

import asyncio

import pytest

from productdemo.services.mcp.output import OutputCoalescer, Stream

Frames = list[tuple[Stream, int, str]]


def collector() -> tuple[Frames, OutputCoalescer]:
    frames: Frames = []

    async def sink(stream: Stream, offset: int, text: str) -> None:
        frames.append((stream, offset, text))

    return frames, OutputCoalescer(sink, interval=0.05, max_bytes=1024)


async def test_a_character_split_across_reads_comes_out_whole() -> None:
    """The two bytes of 'é' fed separately come out as one 'é', and offsets count bytes."""
    frames, out = collector()
    await out.feed("stdout", b"caf\xc3")
    await out.flush()
    await out.feed("stdout", b"\xa9!")
    await out.close()
    assert frames == [("stdout", 0, "caf"), ("stdout", 3, "é!")]
    assert out.offset == 6


async def test_chatty_output_is_coalesced_not_dropped() -> None:
    """10,000 small writes become a few frames of at most ~max_bytes, holding every byte in order."""
    frames, out = collector()
    lines = [f"line {i}\n".encode() for i in range(10_000)]
    for line in lines:
        await out.feed("stdout", line)
    await out.close()
    assert "".join(f[2] for f in frames).encode() == b"".join(lines)
    assert len(frames) < 200
    assert all(len(f[2]) < 1024 + 16 for f in frames)
    offsets = [f[1] for f in frames]
    assert offsets == [sum(len(f[2].encode()) for f in frames[:i]) for i in range(len(frames))]


async def test_a_large_read_is_cut_into_frames_of_max_bytes() -> None:
    """A 5,000-byte read becomes frames of at most 1,024 characters, in order."""
    frames, out = collector()
    await out.feed("stdout", b"y" * 5000)
    await out.close()
    assert [len(f[2]) for f in frames] == [1024, 1024, 1024, 1024, 904]
    assert [f[1] for f in frames] == [0, 1024, 2048, 3072, 4096]


async def test_quiet_output_is_flushed_after_the_interval() -> None:
    """A lone line goes out by itself within the interval, without waiting for more."""
    frames, out = collector()
    await out.feed("stdout", b"hello\n")
    await asyncio.sleep(0.2)
    assert frames == [("stdout", 0, "hello\n")]
    await out.close()


async def test_streams_keep_their_order_and_names() -> None:
    """A switch between stdout and stderr closes the frame, so order and stream survive."""
    frames, out = collector()
    await out.feed("stdout", b"a")
    await out.feed("stderr", b"b")
    await out.feed("stdout", b"c")
    await out.close()
    assert frames == [("stdout", 0, "a"), ("stderr", 1, "b"), ("stdout", 2, "c")]


async def test_an_incomplete_character_at_the_end_is_not_lost() -> None:
    """A truncated sequence at EOF becomes U+FFFD rather than disappearing."""
    frames, out = collector()
    await out.feed("stderr", b"x\xe2\x82")
    await out.close()
    assert "".join(f[2] for f in frames) == "x\ufffd"


async def test_a_timed_flush_that_fails_stops_the_reader() -> None:
    """A sink error in the timer's flush (a lost claim) reaches the reader, not asyncio's log."""

    class Lost(Exception):
        pass

    async def sink(_stream: Stream, _offset: int, _text: str) -> None:
        raise Lost

    out = OutputCoalescer(sink, interval=0.01, max_bytes=1024)
    await out.feed("stdout", b"hello\n")
    await asyncio.sleep(0.1)
    with pytest.raises(Lost):
        await out.feed("stdout", b"more\n")
    with pytest.raises(Lost):
        await out.close()
