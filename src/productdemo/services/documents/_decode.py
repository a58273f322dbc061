"""Bytes to text for txt, md and html: byte-order mark, then UTF-8, then charset detection."""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

import charset_normalizer

# Checked in order: the UTF-32 LE mark begins with the UTF-16 LE mark.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Detection reads a sample only: with dozens of candidate code pages, charset_normalizer takes
# seconds on 10 MB, while deciding from 64 KiB takes milliseconds. The whole file is then
# decoded strictly with the winner, so a sample that misleads fails loudly, not silently.
_SAMPLE_SIZE = 64 * 1024

# Text has few control characters; binary data that happens to decode has many. Tab, line
# feed, vertical tab, form feed, carriage return and escape (ANSI logs) don't count, and a
# short text may hold a stray one or two.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_MAX_CONTROLS_PER_100 = 1
_MAX_CONTROLS_ANYWAY = 2


class Decoded(NamedTuple):
    """Text decoded from bytes, and the Python codec that decoded it."""

    text: str
    encoding: str


def decode_text(data: bytes, encoding: str | None = None) -> Decoded | None:
    """Decode ``data`` as text, or return ``None`` if it is not text.

    Args:
        data: the file's bytes.
        encoding: a codec found earlier (by :func:`~.sniff.sniff`); detection runs again if it
            is missing or does not decode ``data``.

    Returns:
        The text, without a leading byte-order mark, and its codec; ``None`` for binary data:
        bytes no codec decodes, NUL characters, or more than 1% control characters (and
        more than 2).
    """
    decoded = _decode(data, encoding)
    if decoded is None:
        return None
    sample = decoded.text[:_SAMPLE_SIZE]
    allowed = max(_MAX_CONTROLS_ANYWAY, len(sample) * _MAX_CONTROLS_PER_100 // 100)
    if "\x00" in sample or len(_CONTROL.findall(sample)) > allowed:
        return None
    return decoded


def _decode(data: bytes, encoding: str | None) -> Decoded | None:
    if encoding is not None:
        decoded = _strict(data, encoding)
        if decoded is not None:
            return decoded
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _strict(data, codec)
    decoded = _strict(data, "utf-8")
    if decoded is not None:
        return decoded
    # UTF-16 and UTF-32 without a byte-order mark are not detected: their NUL bytes make
    # everything else in them look binary, and they are rare without the mark.
    if b"\x00" in data[:_SAMPLE_SIZE]:
        return None
    sample = _sample(data)
    guess = _detect(sample)
    if guess is None:
        return None
    decoded = _strict(data, guess)
    if decoded is not None or len(sample) == len(data):
        return decoded
    # The sample misled (a byte later on is invalid in the guessed code page): look at all of it.
    guess = _detect(data)
    return None if guess is None else _strict(data, guess)


def _sample(data: bytes) -> bytes:
    """The first bytes, cut after a line feed so that no multi-byte character is split."""
    if len(data) <= _SAMPLE_SIZE:
        return data
    cut = data.rfind(b"\n", 0, _SAMPLE_SIZE)
    return data[: cut + 1] if cut > 0 else data[:_SAMPLE_SIZE]


def _detect(data: bytes) -> str | None:
    best = charset_normalizer.from_bytes(data).best()
    return None if best is None else best.encoding


def _strict(data: bytes, codec: str) -> Decoded | None:
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    # The utf-8-sig, utf-16 and utf-32 codecs drop the mark; a guessed code page may not.
    return Decoded(text.removeprefix("\ufeff"), codec)
