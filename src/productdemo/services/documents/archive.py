"""Zip bomb checks for docx files, made on the zip's central directory before anything unpacks.

The checks trust the sizes each member declares. That is safe because :mod:`zipfile` never
returns more bytes than a member declares: a member that inflates further fails its CRC check
with :class:`zipfile.BadZipFile`, and python-docx reads members through :mod:`zipfile`.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from productdemo.services.documents.errors import UnsafeArchive

# Every central directory entry starts with this signature, so counting it bounds the number
# of members from above without parsing the directory, which costs memory per entry.
_ENTRY_SIGNATURE = b"PK\x01\x02"

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """How far a zip-based document (docx) may unpack.

    Attributes:
        max_members: the most members the archive may have; a docx has a few dozen.
        max_uncompressed: the most bytes all members may declare together.
        max_ratio: the highest uncompressed-to-compressed ratio of one member; XML in a real
            docx compresses about 10 times.
        ratio_floor: members declaring fewer bytes than this skip the ratio check, because small
            repetitive XML parts can compress well beyond ``max_ratio`` and are harmless; their
            total stays bounded by ``max_uncompressed``.
    """

    max_members: int = 10_000
    max_uncompressed: int = 200 * _MB
    max_ratio: float = 100.0
    ratio_floor: int = _MB


DEFAULT_ZIP_LIMITS = ZipLimits()


def open_zip(data: bytes, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> zipfile.ZipFile:
    """Open ``data`` as a zip archive after checking how many members it has.

    Args:
        data: the archive's bytes.
        limits: ``max_members`` is checked here; see :func:`check_zip` for the others.

    Returns:
        The open archive; nothing has been decompressed yet.

    Raises:
        UnsafeArchive: the archive has more than ``limits.max_members`` members.
        zipfile.BadZipFile: ``data`` is not a readable zip archive.
    """
    if data.count(_ENTRY_SIGNATURE) > limits.max_members:
        raise UnsafeArchive(f"the archive has more than {limits.max_members} members")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    # Besides BadZipFile, a damaged directory surfaces as these: bad seeks, names not in UTF-8.
    except (OSError, EOFError, ValueError) as exc:
        raise zipfile.BadZipFile(str(exc)) from exc


def check_zip(archive: zipfile.ZipFile, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> None:
    """Refuse an archive that would unpack beyond ``limits``, judging by its declared sizes.

    Raises:
        UnsafeArchive: too many members, too many bytes in total, or one member compressed
            more than ``limits.max_ratio`` times.
    """
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise UnsafeArchive(f"the archive has more than {limits.max_members} members")
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed:
        raise UnsafeArchive(
            f"the archive would unpack to {total / _MB:.0f} MB; "
            f"the limit is {limits.max_uncompressed / _MB:.0f} MB"
        )
    for member in members:
        if member.file_size < limits.ratio_floor:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_ratio:
            raise UnsafeArchive(
                f"the archive member {member.filename[:100]!r} would expand {ratio:.0f} times; "
                f"the limit is {limits.max_ratio:.0f}"
            )
