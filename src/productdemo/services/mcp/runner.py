"""One install on this instance: connect, run the command, stream its output, verify the server.

:meth:`InstallRunner.execute` returns how the install ended instead of writing the final
state itself: the worker first stops the lease keeper, then writes it, guarded by the claim.
Intermediate states are written here, also guarded: a runner whose claim was taken over
stops (:class:`ClaimLost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import asyncssh
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.config import McpSettings
from productdemo.errors import DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.services.mcp.events import InstallState, McpInstallOutput, McpInstallUpdate, install_topic
from productdemo.services.mcp.logstore import ClaimLost, LogWriter
from productdemo.services.mcp.output import OutputCoalescer, Sink, Stream
from productdemo.services.mcp.remote import (
    PGID_MARKER,
    Credentials,
    RemoteError,
    connect,
    describe,
    kill_group,
    wrap,
)
from productdemo.services.mcp.verify import ToolInfo, VerifyFailed, list_remote_tools
from productdemo.storage.database import to_completion
from productdemo.storage.models import McpInstall

logger = logging.getLogger(__name__)

READ_SIZE = 65536


@dataclass
class Outcome:
    #: How the install ended; "exited" only between the command's end and verification.
    state: InstallState | Literal["exited"]
    message: str
    exit_status: int | None = None
    tools: list[ToolInfo] | None = None


@dataclass
class _Progress:
    last_output: float
    pgid: int | None = None


class InstallRunner:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        events: Publisher,
        settings: McpSettings,
        owner: str,
        install: McpInstall,
        creds: Credentials,
        cancel: asyncio.Event,
    ) -> None:
        self._db = db
        self._events = events
        self._settings = settings
        self._owner = owner
        self._install = install
        self._creds = creds
        self._cancel = cancel

    async def execute(self) -> Outcome:
        """Run the install to its end (never raises for remote trouble: that is an Outcome).

        Raises:
            ClaimLost: another instance finished or took over this install.
        """
        await self.set_state("connecting", "Connecting to the host")
        try:
            conn = await connect(self._creds, self._settings.connect_timeout)
        except RemoteError as exc:
            return Outcome("error", str(exc))
        try:
            return await self._install_and_verify(conn)
        except (asyncssh.Error, OSError) as exc:
            # A channel refused or the connection dropped between the steps.
            return Outcome("error", f"connection lost: {describe(exc)}")
        finally:
            conn.close()

    async def _install_and_verify(self, conn: asyncssh.SSHClientConnection) -> Outcome:
        exit_status: int | None = None
        if not self._install.verify_only:
            await self.set_state("running", "Running the install command")
            ended = await self._run_command(conn)
            if ended.state != "exited":
                return ended
            exit_status = ended.exit_status
            if exit_status != 0:
                return Outcome("failed", f"the install command exited with status {exit_status}", exit_status)
        await self.set_state("verifying", "Launching the server and listing its tools", exit_status)
        try:
            tools = await list_remote_tools(conn, self._install.launch_command, self._settings.verify_timeout)
        except VerifyFailed as exc:
            return Outcome("failed", str(exc), exit_status)
        noun = "tool" if len(tools) == 1 else "tools"
        return Outcome("succeeded", f"installed — {len(tools)} {noun}", exit_status, tools)

    async def _run_command(self, conn: asyncssh.SSHClientConnection) -> Outcome:
        loop = asyncio.get_running_loop()
        settings = self._settings
        writer = LogWriter(self._db, self._install.id, self._owner, settings.log_limit)
        coalescer = OutputCoalescer(self._sink(writer))
        progress = _Progress(last_output=loop.time())
        proc = await conn.create_process(wrap(self._install.command), encoding=None, stdin=asyncssh.DEVNULL)
        pumps: asyncio.Future[object] = asyncio.ensure_future(
            asyncio.gather(
                self._pump(proc.stdout, "stdout", coalescer, progress),
                self._pump_stderr(proc.stderr, coalescer, progress),
            )
        )
        cancelled: asyncio.Future[object] = asyncio.ensure_future(self._cancel.wait())
        deadline = loop.time() + settings.install_timeout
        stop: Outcome | None = None
        try:
            while stop is None:
                now = loop.time()
                wait = min(deadline - now, progress.last_output + settings.idle_timeout - now, 1.0)
                await asyncio.wait(
                    {pumps, cancelled}, timeout=max(wait, 0), return_when=asyncio.FIRST_COMPLETED
                )
                now = loop.time()
                if pumps.done():
                    break
                if cancelled.done():
                    stop = Outcome("cancelled", "Cancelled by an administrator")
                elif now >= deadline:
                    stop = Outcome(
                        "timed_out", f"the install did not finish within {settings.install_timeout:g} s"
                    )
                elif now - progress.last_output >= settings.idle_timeout:
                    stop = Outcome("timed_out", f"no output for {settings.idle_timeout:g} s")
            if stop is not None:
                await self._stop_remote(conn, proc, progress)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(pumps), settings.kill_grace + 5)
            else:
                pumps.result()
            await coalescer.close()
        except (asyncio.CancelledError, ClaimLost):
            # The claim was lost or the server is stopping: don't leave the command running.
            await asyncio.shield(self._stop_remote(conn, proc, progress))
            raise
        finally:
            cancelled.cancel()
            pumps.cancel()
            await asyncio.gather(pumps, cancelled, return_exceptions=True)
        if stop is not None:
            return stop
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait_closed(), 5)
        if proc.exit_status is None:
            return Outcome("error", "connection lost before the command ended")
        return Outcome("exited", "", proc.exit_status)

    async def _stop_remote(
        self, conn: asyncssh.SSHClientConnection, proc: asyncssh.SSHClientProcess[bytes], progress: _Progress
    ) -> None:
        if progress.pgid is not None:
            await kill_group(conn, progress.pgid, self._settings.kill_grace)
        else:
            # The wrapper never announced its group (setsid missing?): the channel is all we have.
            with contextlib.suppress(asyncssh.Error, OSError):
                proc.terminate()
        proc.close()

    async def _pump(
        self, reader: asyncssh.SSHReader[bytes], stream: Stream, out: OutputCoalescer, progress: _Progress
    ) -> None:
        loop = asyncio.get_running_loop()
        while data := await reader.read(READ_SIZE):
            progress.last_output = loop.time()
            await out.feed(stream, data)

    async def _pump_stderr(
        self, reader: asyncssh.SSHReader[bytes], out: OutputCoalescer, progress: _Progress
    ) -> None:
        """Take the wrapper's process-group line off the front of stderr, then pump the rest."""
        head = b""
        while b"\n" not in head and len(head) < 256:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            head += data
        line, newline, rest = head.partition(b"\n")
        if newline and line.startswith(PGID_MARKER) and line[len(PGID_MARKER) :].isdigit():
            progress.pgid = int(line[len(PGID_MARKER) :])
        else:
            rest = head
        if rest:
            progress.last_output = asyncio.get_running_loop().time()
            await out.feed("stderr", rest)
        await self._pump(reader, "stderr", out, progress)

    def _sink(self, writer: LogWriter) -> Sink:
        install_id = self._install.id
        topic = install_topic(install_id)

        async def sink(stream: Stream, offset: int, data: str) -> None:
            await writer.append(stream, offset, data)
            try:
                await self._events.to_topic(
                    topic, McpInstallOutput(install_id=install_id, stream=stream, offset=offset, data=data)
                )
            except DomainError as exc:
                # Stored already: viewers fetch it by offset once the broker is back.
                logger.warning("install %s: output not published: %s", install_id, exc)

        return sink

    async def set_state(self, state: InstallState, message: str, exit_status: int | None = None) -> None:
        """Write and publish an intermediate state, if this instance still holds the claim.

        Raises:
            ClaimLost: it does not.
        """

        async def save() -> bool:
            async with self._db() as db:
                result = await db.execute(
                    update(McpInstall)
                    .where(McpInstall.id == self._install.id, McpInstall.claimed_by == self._owner)
                    .values(
                        state=state, message=message, exit_status=exit_status, updated_at=datetime.now(UTC)
                    )
                )
                await db.commit()
            return bool(getattr(result, "rowcount", 1))

        # The work is cancelled when its lease is lost or the instance stops: never mid-write.
        if not await to_completion(save()):
            raise ClaimLost(self._install.id)
        await publish_state(self._events, self._install.id, state, message, exit_status)


async def publish_state(
    events: Publisher, install_id: str, state: InstallState, message: str, exit_status: int | None
) -> None:
    try:
        await events.to_topic(
            install_topic(install_id),
            McpInstallUpdate(install_id=install_id, state=state, exit_status=exit_status, message=message),
        )
    except DomainError as exc:
        logger.warning("install %s: state not published: %s", install_id, exc)
