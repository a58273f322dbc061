"""Verify an install: launch the server over SSH and list its tools with the official MCP client.

The transport is the SDK's: a pair of anyio memory streams of ``SessionMessage``. Here the
other ends are an asyncssh process's stdin and stdout, read as newline-delimited JSON-RPC
(the stdio transport's framing), so the server runs on the remote host and speaks to
``ClientSession`` through the SSH channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import asyncssh
import mcp_types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession
from mcp.shared.message import SessionMessage

from productdemo.services.mcp.remote import PGID_MARKER, describe, kill_group, wrap

logger = logging.getLogger(__name__)

#: Seconds a server has to exit after its stdin closes, and then after TERM.
STOP_GRACE = 2.0


class VerifyFailed(Exception):
    """The launched server did not answer MCP; the message says how."""


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str


async def list_remote_tools(
    conn: asyncssh.SSHClientConnection, launch_command: str, timeout: float
) -> list[ToolInfo]:
    """Launch ``launch_command`` on the host, initialize an MCP session, list its tools.

    Raises:
        VerifyFailed: no answer within ``timeout`` seconds, not MCP, or the server exited.
    """
    try:
        async with asyncio.timeout(timeout):
            async with _ssh_transport(conn, launch_command) as (read, write, stderr):
                try:
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        tools: list[ToolInfo] = []
                        cursor: str | None = None
                        while True:
                            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
                            page = await session.list_tools(params=params)
                            tools += [ToolInfo(t.name, t.description or "") for t in page.tools]
                            cursor = page.next_cursor
                            if not cursor:
                                return tools
                except Exception as exc:
                    raise VerifyFailed(_failure(exc, stderr)) from None
    except TimeoutError:
        raise VerifyFailed(f"the server did not answer MCP within {timeout:g} s") from None


def _failure(exc: BaseException, stderr: list[bytes]) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    said = b"".join(stderr).decode(errors="replace").strip().splitlines()
    hint = f" (stderr: {said[-1][:200]})" if said else ""
    return f"the server did not answer MCP: {describe(exc)}{hint}"


@contextlib.asynccontextmanager
async def _ssh_transport(
    conn: asyncssh.SSHClientConnection, command: str
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
        list[bytes],
    ]
]:
    """Yield the SDK's (read, write) streams over the remote process, and its stderr so far."""
    to_session, read = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write, from_session = anyio.create_memory_object_stream[SessionMessage](16)
    # In its own process group, like the install: a server that ignores the end of its stdin
    # is stopped with TERM, then KILL (the shutdown the MCP stdio transport describes).
    proc = await conn.create_process(wrap(command), encoding=None)
    stderr: list[bytes] = []
    group: list[int] = []

    async def pump_out() -> None:
        async with to_session:
            while True:
                try:
                    line = await proc.stdout.readuntil(b"\n")
                except (asyncio.IncompleteReadError, asyncssh.Error, OSError):
                    return
                text = line.decode(errors="replace").strip()
                if not text:
                    continue
                try:
                    message = mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False)
                except ValueError as exc:
                    await to_session.send(ValueError(f"not a JSON-RPC message: {text[:80]!r}"))
                    logger.debug("verify: unparsable line: %s", exc)
                    continue
                await to_session.send(SessionMessage(message))

    async def pump_in() -> None:
        async with from_session:
            async for message in from_session:
                body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                proc.stdin.write(body.encode() + b"\n")
                await proc.stdin.drain()

    async def pump_err() -> None:
        head = b""
        while b"\n" not in head and len(head) < 256 and (chunk := await proc.stderr.read(4096)):
            head += chunk
        line, _, rest = head.partition(b"\n")
        if line.startswith(PGID_MARKER) and line[len(PGID_MARKER) :].isdigit():
            group.append(int(line[len(PGID_MARKER) :]))
        else:
            rest = head
        stderr.append(rest)
        while chunk := await proc.stderr.read(4096):
            if sum(map(len, stderr)) < 65536:
                stderr.append(chunk)

    tasks = [asyncio.ensure_future(t) for t in (pump_out(), pump_in(), pump_err())]
    try:
        yield read, write, stderr
    finally:
        tasks[0].cancel()
        tasks[1].cancel()
        with contextlib.suppress(asyncssh.Error, OSError):
            proc.stdin.write_eof()
        with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
            await asyncio.wait_for(proc.wait_closed(), STOP_GRACE)
        if group and proc.exit_status is None:
            await kill_group(conn, group[0], STOP_GRACE)
        tasks[2].cancel()
        proc.close()
        await asyncio.gather(*tasks, return_exceptions=True)
