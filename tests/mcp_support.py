"""Helpers for the MCP tests: an administrator's HTTP calls and following an install's topic."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.sshd import Sshd
from tests.support import MS, recv_json, send_json

FINAL = {"succeeded", "failed", "error", "timed_out", "cancelled"}


async def add_trusted_host(
    http: httpx.AsyncClient, sshd: Sshd, username: str = "root", key: str | None = None
) -> str:
    """Add a host for ``sshd``, scan its key and pin it; returns the host id."""
    key = key if key is not None else (sshd.root_key if username == "root" else sshd.user_key)
    made = await http.post(
        "/api/mcp/hosts",
        json={
            "name": f"test-{username}",
            "hostname": "127.0.0.1",
            "port": sshd.port,
            "username": username,
            "privateKey": key,
        },
    )
    assert made.status_code == 201, made.text
    host_id: str = made.json()["host"]["id"]
    scanned = await http.post(f"/api/mcp/hosts/{host_id}/scan")
    assert scanned.status_code == 200, scanned.text
    trusted = await http.post(f"/api/mcp/hosts/{host_id}/trust", json=scanned.json())
    assert trusted.status_code == 200, trusted.text
    return host_id


async def start_install(http: httpx.AsyncClient, host_id: str, server_id: str) -> str:
    started = await http.post("/api/mcp/installs", json={"hostId": host_id, "serverId": server_id})
    assert started.status_code == 202, started.text
    install_id: str = started.json()["install"]["id"]
    return install_id


async def subscribe(ws: ClientConnection, install_id: str) -> None:
    await send_json(
        ws, {"type": "subscribe", "id": f"s-{install_id}", "payload": {"topic": f"mcp_install:{install_id}"}}
    )
    while True:
        frame = await recv_json(ws)
        if frame.get("id") == f"s-{install_id}":
            assert frame["type"] == "ack", frame
            return


async def follow(ws: ClientConnection, install_id: str, timeout: float = 30000 * MS) -> list[dict[str, Any]]:
    """Frames of ``mcp_install:<id>`` until the install's final state (inclusive)."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_json(ws, timeout)
            if frame.get("stream") != f"topic:mcp_install:{install_id}":
                continue
            frames.append(frame)
            if frame["type"] == "mcp_install" and frame["payload"]["state"] in FINAL:
                return frames


def output_of(frames: list[dict[str, Any]]) -> str:
    """The output frames' text, checking that their offsets are contiguous from 0."""
    text, offset = "", 0
    for frame in frames:
        if frame["type"] != "mcp_install_output":
            continue
        assert frame["payload"]["offset"] == offset, (frame, offset)
        text += frame["payload"]["data"]
        offset += len(frame["payload"]["data"].encode())
    return text


def states_of(frames: list[dict[str, Any]]) -> list[str]:
    return [f["payload"]["state"] for f in frames if f["type"] == "mcp_install"]


async def wait_state(
    http: httpx.AsyncClient, install_id: str, states: set[str], timeout: float = 30000 * MS
) -> dict[str, Any]:
    """Poll the install over REST until it is in one of ``states``."""
    async with asyncio.timeout(timeout):
        while True:
            install: dict[str, Any] = (await http.get(f"/api/mcp/installs/{install_id}")).json()["install"]
            if install["state"] in states:
                return install
            await asyncio.sleep(0.05)
