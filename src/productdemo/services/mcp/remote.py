"""The SSH side: scanning a host key, connecting with the pinned one, and killing a process group.

Every connection is explicit: no ``~/.ssh/config``, no agent, no ambient keys, and the host
key checked against the one the administrator pinned (never ``known_hosts=None``).

A command runs under ``setsid`` so that it and everything it starts form one process group on
the remote host; the wrapper's first stderr line names that group. Cancelling sends TERM and
then KILL to the group over a second channel of the same connection: OpenSSH refuses channel
signals for some logins (root, without privilege separation), so they are not relied on.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from dataclasses import dataclass

import asyncssh

logger = logging.getLogger(__name__)

#: The first line the wrapper writes to stderr; the runner strips it from the output.
PGID_MARKER = b"productdemo-pgid "


class RemoteError(Exception):
    """Connecting or talking to the host failed; the message is safe to show and store."""


class HostKeyChanged(RemoteError):
    """The host presented a key other than the pinned one."""


@dataclass(frozen=True)
class Credentials:
    hostname: str
    port: int
    username: str
    private_key: str
    password: str | None
    host_key: str


async def scan_host_key(hostname: str, port: int, timeout: float) -> asyncssh.SSHKey:
    """The host's public key, fetched without authenticating.

    Raises:
        RemoteError: the host cannot be reached or did not offer a key in time.
    """
    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(hostname, port, config=None), timeout)
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise RemoteError(f"cannot reach {hostname}:{port}: {describe(exc)}") from None
    if key is None:
        raise RemoteError(f"{hostname}:{port} offered no host key")
    return key


async def connect(creds: Credentials, timeout: float) -> asyncssh.SSHClientConnection:
    """Open an authenticated connection that accepts only the pinned host key.

    Raises:
        HostKeyChanged: the host's key is not the pinned one.
        RemoteError: unreachable, timed out, authentication refused, or the connection failed.
    """
    known = asyncssh.import_known_hosts(f"[{creds.hostname}]:{creds.port} {creds.host_key}\n")
    try:
        return await asyncssh.connect(
            creds.hostname,
            creds.port,
            username=creds.username,
            client_keys=[asyncssh.import_private_key(creds.private_key)],
            password=creds.password,
            known_hosts=known,
            config=None,
            agent_path=None,
            agent_forwarding=False,
            x11_forwarding=False,
            connect_timeout=timeout,
            keepalive_interval=15,
            preferred_auth="publickey,password" if creds.password else "publickey",
        )
    except asyncssh.HostKeyNotVerifiable:
        raise HostKeyChanged("host key changed: the host presented a key other than the pinned one") from None
    except asyncssh.PermissionDenied:
        raise RemoteError(f"authentication refused for {creds.username}") from None
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise RemoteError(f"cannot connect to {creds.hostname}:{creds.port}: {describe(exc)}") from None


def wrap(command: str) -> str:
    """The command as run: in a new session (its own process group), announcing the group id."""
    inner = f"printf '{PGID_MARKER.decode()}%s\\n' \"$$\" >&2; exec sh -c {shlex.quote(command)}"
    return f"exec setsid -w sh -c {shlex.quote(inner)}"


async def kill_group(conn: asyncssh.SSHClientConnection, pgid: int, grace: float) -> None:
    """TERM the remote process group, then KILL it if it outlives ``grace`` seconds."""
    await _run_quietly(conn, f"kill -s TERM -- -{pgid}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while loop.time() < deadline:
        if not await _group_alive(conn, pgid):
            return
        await asyncio.sleep(min(0.2, grace))
    logger.info("process group %d outlived TERM by %.1f s; sending KILL", pgid, grace)
    await _run_quietly(conn, f"kill -s KILL -- -{pgid}")


async def _group_alive(conn: asyncssh.SSHClientConnection, pgid: int) -> bool:
    result = await _run_quietly(conn, f"kill -s 0 -- -{pgid}")
    return result == 0


async def _run_quietly(conn: asyncssh.SSHClientConnection, command: str) -> int | None:
    try:
        result = await asyncio.wait_for(conn.run(command, check=False, stdin=asyncssh.DEVNULL), 10)
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        logger.warning("remote %r failed: %s", command, describe(exc))
        return None
    return result.exit_status


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    return str(exc) or type(exc).__name__
