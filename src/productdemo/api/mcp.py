"""MCP servers on remote hosts: hosts, the catalogue, installs, their logs and the audit log.

Every route is for administrators only (403 for anyone else).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import Field

from productdemo.api.deps import AdminSession, ServicesDep
from productdemo.api.errors import error_responses
from productdemo.realtime.protocol import CamelModel
from productdemo.services.mcp.hosts import HostPublic
from productdemo.services.mcp.installs import InstallPublic
from productdemo.services.mcp.logstore import render_text

router = APIRouter(prefix="/api/mcp", tags=["mcp"])


class HostCreate(CamelModel):
    name: str = Field(min_length=1, max_length=100)
    hostname: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:\-\[\]]+$")
    port: int = Field(22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._][A-Za-z0-9._\-]*$")
    private_key: str = Field(min_length=1, max_length=20000, repr=False)
    password: str | None = Field(default=None, max_length=1000, repr=False)


class HostEnvelope(CamelModel):
    host: HostPublic


class HostsPublic(CamelModel):
    hosts: list[HostPublic]


class ScanResult(CamelModel):
    fingerprint: str


class TrustRequest(CamelModel):
    fingerprint: str = Field(min_length=1, max_length=200)


class ServerPublic(CamelModel):
    id: str
    name: str
    install_command: str
    launch_command: str


class ServersPublic(CamelModel):
    servers: list[ServerPublic]


class InstallCreate(CamelModel):
    host_id: str = Field(min_length=1, max_length=32)
    server_id: str = Field(min_length=1, max_length=16)


class InstallEnvelope(CamelModel):
    install: InstallPublic


class InstallsPublic(CamelModel):
    installs: list[InstallPublic]


class LogChunkPublic(CamelModel):
    offset: int
    stream: str
    data: str


class LogPublic(CamelModel):
    install_id: str
    state: str
    size: int
    chunks: list[LogChunkPublic]


class AuditEntryPublic(CamelModel):
    id: int
    at: datetime
    username: str
    action: str
    host: str
    server_name: str | None
    command: str | None
    result: str


class AuditPublic(CamelModel):
    entries: list[AuditEntryPublic]


@router.post("/hosts", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
async def add_host(body: HostCreate, admin: AdminSession, services: ServicesDep) -> HostEnvelope:
    """Add a remote host; its key is sealed at rest and never returned."""
    host = await services.mcp_hosts.add(
        admin.username, body.name, body.hostname, body.port, body.username, body.private_key, body.password
    )
    return HostEnvelope(host=HostPublic.of(host))


@router.get("/hosts")
async def list_hosts(_admin: AdminSession, services: ServicesDep) -> HostsPublic:
    """Every host, with its host key's fingerprint and whether it is pinned."""
    return HostsPublic(hosts=[HostPublic.of(h) for h in await services.mcp_hosts.all()])


@router.delete("/hosts/{host_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(409))
async def delete_host(host_id: str, admin: AdminSession, services: ServicesDep) -> Response:
    """Delete a host and its install history (409 while an install runs on it)."""
    await services.mcp_hosts.delete(admin.username, host_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/hosts/{host_id}/scan", responses=error_responses(409))
async def scan_host(host_id: str, _admin: AdminSession, services: ServicesDep) -> ScanResult:
    """Fetch the host's key and return its SHA-256 fingerprint for confirmation."""
    return ScanResult(fingerprint=await services.mcp_hosts.scan(host_id))


@router.post("/hosts/{host_id}/trust", responses=error_responses(409))
async def trust_host(
    host_id: str, body: TrustRequest, admin: AdminSession, services: ServicesDep
) -> HostEnvelope:
    """Pin the scanned host key (409 if the fingerprint is not the scanned one)."""
    host = await services.mcp_hosts.trust(admin.username, host_id, body.fingerprint)
    return HostEnvelope(host=HostPublic.of(host))


@router.get("/servers")
async def list_servers(_admin: AdminSession, services: ServicesDep) -> ServersPublic:
    """The installable MCP servers, from configuration, with their exact commands."""
    return ServersPublic(
        servers=[
            ServerPublic(
                id=e.id, name=e.name, install_command=e.install_command, launch_command=e.launch_command
            )
            for e in services.mcp_installs.catalogue
        ]
    )


@router.post("/installs", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(404, 409))
async def start_install(body: InstallCreate, admin: AdminSession, services: ServicesDep) -> InstallEnvelope:
    """Queue an install of a catalogue entry on a host (409 if one runs for that pair)."""
    install = await services.mcp_installs.start(admin.username, admin.user_id, body.host_id, body.server_id)
    return InstallEnvelope(install=InstallPublic.of(install))


@router.get("/installs")
async def list_installs(_admin: AdminSession, services: ServicesDep) -> InstallsPublic:
    """Recent installs, newest first."""
    return InstallsPublic(installs=[InstallPublic.of(i) for i in await services.mcp_installs.recent()])


@router.get("/installs/{install_id}")
async def get_install(install_id: str, _admin: AdminSession, services: ServicesDep) -> InstallEnvelope:
    """One install: state, exit status, tools."""
    return InstallEnvelope(install=InstallPublic.of(await services.mcp_installs.get(install_id)))


@router.get("/installs/{install_id}/log")
async def get_log(
    install_id: str,
    _admin: AdminSession,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> LogPublic:
    """Stored output from byte ``offset``, about a MiB per answer (ask again from its end while
    that is below ``size``); a jump between chunks is output that was dropped."""
    install, chunks = await services.mcp_installs.log(install_id, offset)
    return LogPublic(
        install_id=install.id,
        state=install.state,
        size=install.log_size,
        chunks=[LogChunkPublic(offset=c.offset, stream=c.stream, data=c.data) for c in chunks],
    )


@router.get("/installs/{install_id}/log.txt")
async def download_log(install_id: str, _admin: AdminSession, services: ServicesDep) -> Response:
    """The whole stored log as a text file, with "N bytes omitted" where output was dropped."""
    _install, chunks = await services.mcp_installs.log(install_id, 0, limit=None)
    disposition = f'attachment; filename="mcp-install-{install_id}.log"'
    return Response(
        render_text(chunks),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


@router.post(
    "/installs/{install_id}/cancel", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409)
)
async def cancel_install(install_id: str, admin: AdminSession, services: ServicesDep) -> InstallEnvelope:
    """Stop an install: its remote process group gets TERM, then KILL after a grace period."""
    return InstallEnvelope(
        install=InstallPublic.of(await services.mcp_installs.cancel(admin.username, install_id))
    )


@router.post(
    "/installs/{install_id}/verify", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409)
)
async def verify_install(install_id: str, admin: AdminSession, services: ServicesDep) -> InstallEnvelope:
    """Launch the installed server again and list its tools (a new, verify-only install)."""
    install = await services.mcp_installs.verify_again(admin.username, admin.user_id, install_id)
    return InstallEnvelope(install=InstallPublic.of(install))


@router.get("/audit")
async def audit(_admin: AdminSession, services: ServicesDep) -> AuditPublic:
    """Who ran which command on which host when, and the result; newest first."""
    entries = await services.mcp_audit.recent()
    return AuditPublic(entries=[AuditEntryPublic.model_validate(e, from_attributes=True) for e in entries])
