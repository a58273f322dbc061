"""Remote hosts: add, list, delete; fetch the host key and pin it once an administrator confirms.

The private key (and optional password) are sealed by the vault before they reach the
database and are never part of :class:`HostPublic`, an event or a log line.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import asyncssh
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import BadRequest, Conflict, NotFound
from productdemo.realtime.protocol import CamelModel
from productdemo.services.mcp.audit import AuditLog, host_label
from productdemo.services.mcp.events import ACTIVE_STATES
from productdemo.services.mcp.remote import Credentials, RemoteError, scan_host_key
from productdemo.services.mcp.vault import Vault
from productdemo.storage.models import McpHost, McpInstall


class HostPublic(CamelModel):
    id: str
    name: str
    hostname: str
    port: int
    username: str
    fingerprint: str | None
    trusted: bool

    @classmethod
    def of(cls, host: McpHost) -> HostPublic:
        key = host.host_key or host.scanned_key
        return cls(
            id=host.id,
            name=host.name,
            hostname=host.hostname,
            port=host.port,
            username=host.username,
            fingerprint=fingerprint(key) if key else None,
            trusted=host.host_key is not None,
        )


def fingerprint(public_key: str) -> str:
    return str(asyncssh.import_public_key(public_key).get_fingerprint("sha256"))


class HostService:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], vault: Vault, audit: AuditLog, connect_timeout: float
    ) -> None:
        self._db = db
        self._vault = vault
        self._audit = audit
        self._timeout = connect_timeout

    async def add(
        self,
        actor: str,
        name: str,
        hostname: str,
        port: int,
        username: str,
        private_key: str,
        password: str | None,
    ) -> McpHost:
        """Raises:
        BadRequest: the private key cannot be read (or needs a passphrase).
        """
        try:
            asyncssh.import_private_key(private_key)
        except (asyncssh.KeyImportError, ValueError):
            raise BadRequest("privateKey: not an unencrypted private key in OpenSSH or PEM format") from None
        host_id = "h_" + secrets.token_hex(8)
        host = McpHost(
            id=host_id,
            name=name,
            hostname=hostname,
            port=port,
            username=username,
            private_key=self._vault.seal(private_key, host_id),
            password=self._vault.seal(password, host_id) if password else None,
            created_at=datetime.now(UTC),
        )
        async with self._db() as db:
            db.add(host)
            await db.commit()
        await self._audit.record(actor, "host.add", host_label(username, hostname, port), "added")
        return host

    async def all(self) -> list[McpHost]:
        async with self._db() as db:
            return list(await db.scalars(select(McpHost).order_by(McpHost.created_at)))

    async def get(self, host_id: str) -> McpHost:
        async with self._db() as db:
            host = await db.get(McpHost, host_id)
        if host is None:
            raise NotFound(f"no host {host_id}")
        return host

    async def delete(self, actor: str, host_id: str) -> None:
        host = await self.get(host_id)
        async with self._db() as db:
            busy = await db.scalar(
                select(McpInstall.id).where(
                    McpInstall.host_id == host_id, McpInstall.state.in_(ACTIVE_STATES)
                )
            )
            if busy is not None:
                raise Conflict(f"install {busy} is still running on this host")
            await db.execute(delete(McpHost).where(McpHost.id == host_id))
            await db.commit()
        await self._audit.record(actor, "host.delete", _label(host), "deleted")

    async def scan(self, host_id: str) -> str:
        """Fetch the host's key now; returns its SHA-256 fingerprint for the admin to confirm.

        Raises:
            Conflict: the host cannot be reached (the message says why).
        """
        host = await self.get(host_id)
        try:
            key = await scan_host_key(host.hostname, host.port, self._timeout)
        except RemoteError as exc:
            raise Conflict(str(exc)) from None
        line = key.export_public_key("openssh").decode().strip()
        async with self._db() as db:
            row = await db.get(McpHost, host_id)
            if row is None:
                raise NotFound(f"no host {host_id}")
            row.scanned_key = line
            await db.commit()
        return str(key.get_fingerprint("sha256"))

    async def trust(self, actor: str, host_id: str, confirmed: str) -> McpHost:
        """Pin the scanned key, if ``confirmed`` is its fingerprint.

        Raises:
            Conflict: nothing was scanned, or the fingerprint is not the scanned key's.
        """
        async with self._db() as db:
            host = await db.get(McpHost, host_id)
            if host is None:
                raise NotFound(f"no host {host_id}")
            if host.scanned_key is None:
                raise Conflict("scan the host key first")
            seen = fingerprint(host.scanned_key)
            if confirmed.strip() != seen:
                raise Conflict(f"the host's key has fingerprint {seen}, not {confirmed.strip()}")
            host.host_key = host.scanned_key
            await db.commit()
        await self._audit.record(actor, "host.trust", _label(host), f"pinned {seen}")
        return host

    def credentials(self, host: McpHost) -> Credentials:
        """The decrypted credentials for a connection (never stored, logged or returned).

        Raises:
            RemoteError: the host key is not pinned yet.
        """
        if host.host_key is None:
            raise RemoteError("the host key is not confirmed yet")
        password = self._vault.open(host.password, host.id) if host.password else None
        return Credentials(
            hostname=host.hostname,
            port=host.port,
            username=host.username,
            private_key=self._vault.open(host.private_key, host.id),
            password=password,
            host_key=host.host_key,
        )


def _label(host: McpHost) -> str:
    return host_label(host.username, host.hostname, host.port)
