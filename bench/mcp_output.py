# ruff: noqa: T201
"""Issue 9: an install printing ~10 MB (100,000 lines) as fast as it can, watched by 10 sockets
and one Chromium page.

Starts a throwaway sshd (tests/sshd.py) and ``productdemo serve`` (SQLite, in-process broker)
with a catalogue entry whose command waits 3 s (time for the viewers to subscribe), then prints
100,000 lines of 98 bytes, each starting with ``time.time_ns()`` taken on the "remote" host (the
same machine, so the same clock). Then a second install prints 200 lines at 20 lines/s.

Measured: end-to-end output bytes/s (first to last byte at the slowest socket), the server's CPU
seconds per MB of output (schedstat of the server process, sshd not included), frames/s per
viewer, latency from a line's write on the remote host to its arrival at a socket (p50/p99 over
every line on every socket) and in the page (a WebSocket listener added before the app loads),
and the page's longest main-thread task while rendering (PerformanceObserver ``longtask``).

Runs in ``.venv`` (needs the built client, sshd and /usr/bin/chromium); prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.wsclient import cpu_sched_s
from tests.sshd import cleanup, free_port, start_sshd

REPO = Path(__file__).resolve().parents[1]
PRODUCTDEMO = Path(sys.executable).parent / "productdemo"
PASSWORD = "bench password 1"

FAST = (
    "sleep 3; python3 -c \"import sys, time\nw = sys.stdout.write\npad = 'x' * 70\n"
    "for i in range({lines}):\n    w(f'{{time.time_ns()}} {{i:06d}} {{pad}}\\n')\n\""
)
SLOW = (
    'sleep 3; python3 -u -c "import time\n'
    'for i in range(200):\n    print(time.time_ns(), i, flush=True); time.sleep(0.05)\n"'
)

# Records in the page every output frame's lines' latencies (ms) and the longest tasks.
PAGE_PROBE = """(() => {
  window.__lat = []; window.__longest = 0; window.__longtasks = 0; window.__since = Infinity;
  // Only tasks after the first output frame count: loading the page is not rendering output.
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime < window.__since) continue;
      window.__longtasks++;
      window.__longest = Math.max(window.__longest, e.duration);
    }
  }).observe({ type: "longtask", buffered: true });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const now = performance.timeOrigin + performance.now();
        if (!event.data.startsWith('{"type":"mcp_install_output"')) return;
        window.__since = Math.min(window.__since, performance.now());
        const data = JSON.parse(event.data).payload.data;
        for (const line of data.split("\\n")) {
          const ts = Number(line.split(" ", 1)[0]);
          if (ts > 1e18) window.__lat.push(now - ts / 1e6);
        }
      });
    }
  };
})();"""


def say(*what: object) -> None:
    print(*what, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def watch(
    port: int, cookie: str, install_id: str, ready: asyncio.Event, count: int
) -> dict[str, object]:
    """One viewer socket: subscribe, then collect output until the final state."""
    headers = {"Cookie": f"connect.sid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
    lat: list[float] = []
    frames = size = 0
    first = last = 0
    async with connect(
        f"ws://127.0.0.1:{port}/ws", additional_headers=headers, origin=None, max_size=None
    ) as ws:
        await ws.send(
            orjson.dumps(
                {"type": "subscribe", "id": "s", "payload": {"topic": f"mcp_install:{install_id}"}}
            ).decode()
        )
        while True:
            raw = await asyncio.wait_for(ws.recv(), 120)
            now = time.time_ns()
            frame = orjson.loads(raw)
            if frame.get("id") == "s":
                ready.set()
            elif frame["type"] == "mcp_install_output":
                frames += 1
                data = frame["payload"]["data"]
                size += len(data.encode())
                first = first or now
                last = now
                for line in data.split("\n"):
                    head = line.split(" ", 1)[0]
                    if head.isdigit() and len(head) >= 19:
                        lat.append((now - int(head)) / 1e6)
            elif frame["type"] == "mcp_install" and frame["payload"]["state"] in (
                "succeeded",
                "failed",
                "error",
                "timed_out",
                "cancelled",
            ):
                return {
                    "frames": frames,
                    "bytes": size,
                    "first": first,
                    "last": last,
                    "lat": lat,
                    "state": frame["payload"]["state"],
                    "lines": count,
                }


async def run_install(
    port: int,
    cookies: list[str],
    http: httpx.AsyncClient,
    host_id: str,
    server_id: str,
    lines: int,
    browser_page: object | None,
    pid: int,
) -> dict[str, object]:
    install_id = (
        await http.post("/api/mcp/installs", json={"hostId": host_id, "serverId": server_id})
    ).json()["install"]["id"]
    say("install started", install_id)
    readies = [asyncio.Event() for _ in cookies]
    tasks = [
        asyncio.create_task(watch(port, c, install_id, r, lines))
        for c, r in zip(cookies, readies, strict=True)
    ]
    await asyncio.gather(*(r.wait() for r in readies))
    say("install", install_id, "watched by", len(cookies))
    if browser_page is not None:
        await browser_page.goto(f"http://127.0.0.1:{port}/admin/mcp/{install_id}")  # type: ignore[attr-defined]
    cpu0 = cpu_sched_s(pid)
    results = await asyncio.gather(*tasks)
    cpu = cpu_sched_s(pid) - cpu0
    total = results[0]["bytes"]
    start = min(r["first"] for r in results)
    end = max(r["last"] for r in results)
    seconds = (end - start) / 1e9
    lat = [x for r in results for x in r["lat"]]  # type: ignore[union-attr]
    out: dict[str, object] = {
        "state": results[0]["state"],
        "viewers": len(results),
        "bytes_per_viewer": total,
        "lines_seen_per_viewer": len(results[0]["lat"]),  # type: ignore[arg-type]
        "seconds": round(seconds, 2),
        "output_MB_per_s": round(total / 1e6 / seconds, 2),
        "server_cpu_s": round(cpu, 2),
        "server_cpu_s_per_MB": round(cpu / (total / 1e6), 3),
        "frames_per_viewer": results[0]["frames"],
        "frames_per_s_per_viewer": round(statistics.mean(r["frames"] for r in results) / seconds, 1),  # type: ignore[misc]
        "latency_ms_p50": pct(lat, 0.5),
        "latency_ms_p99": pct(lat, 0.99),
    }
    if browser_page is not None:
        page = browser_page
        await page.get_by_test_id("mcp-install-state").wait_for()  # type: ignore[attr-defined]
        await page.wait_for_function(  # type: ignore[attr-defined]
            "(n) => Number(document.querySelector('[data-testid=mcp-log-bytes]')?.dataset.bytes) >= n",
            arg=total,
            timeout=120_000,
        )
        probe = await page.evaluate(
            "() => ({lat: window.__lat, longest: window.__longest, n: window.__longtasks})"
        )  # type: ignore[attr-defined]
        out["page_latency_ms_p50"] = pct(probe["lat"], 0.5)
        out["page_latency_ms_p99"] = pct(probe["lat"], 0.99)
        out["page_longest_task_ms"] = round(probe["longest"], 1)
        out["page_long_tasks"] = probe["n"]
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    sshd = await start_sshd()
    data = Path(tempfile.mkdtemp(prefix="pdbench-mcp-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTDEMO_")}
    env.update(
        PRODUCTDEMO_STORAGE_DATA_DIR=str(data),
        PRODUCTDEMO_SERVER_CLIENT_DIR=str(REPO / "client" / "dist"),
        PRODUCTDEMO_SECURITY_SECRET_KEY="bench-secret-key-0123456789",
        PRODUCTDEMO_SECURITY_ARGON2_TIME_COST="1",
        PRODUCTDEMO_SECURITY_ARGON2_MEMORY_KIB="1024",
        PRODUCTDEMO_LOGGING_LEVEL="WARNING",
        PRODUCTDEMO_MCP_MCP_SERVER_NAME_1="fast",
        PRODUCTDEMO_MCP_MCP_TERMINAL_COMMAND_1=FAST.format(lines=args.lines),
        PRODUCTDEMO_MCP_MCP_LAUNCH_COMMAND_1=sshd.mcp_server_command,
        PRODUCTDEMO_MCP_MCP_SERVER_NAME_2="slow",
        PRODUCTDEMO_MCP_MCP_TERMINAL_COMMAND_2=SLOW,
        PRODUCTDEMO_MCP_MCP_LAUNCH_COMMAND_2=sshd.mcp_server_command,
    )
    subprocess.run(
        [str(PRODUCTDEMO), "users", "create", "benchadmin", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    log = (data / "server.log").open("wb")
    server = subprocess.Popen(
        [str(PRODUCTDEMO), "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=30) as http:
            for _ in range(300):
                try:
                    if (await http.get("/api/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            say("server ready")
            cookies = []
            for _ in range(args.viewers + 1):
                r = await http.post("/api/auth/login", json={"username": "benchadmin", "password": PASSWORD})
                cookies.append(r.cookies["connect.sid"])
            say("signed in")
            http.cookies.set("connect.sid", cookies.pop())
            host = (
                await http.post(
                    "/api/mcp/hosts",
                    json={
                        "name": "bench",
                        "hostname": "127.0.0.1",
                        "port": sshd.port,
                        "username": "root",
                        "privateKey": sshd.root_key,
                    },
                )
            ).json()["host"]
            fingerprint = (await http.post(f"/api/mcp/hosts/{host['id']}/scan")).json()
            await http.post(f"/api/mcp/hosts/{host['id']}/trust", json=fingerprint)
            say("host trusted")
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                context = await browser.new_context(viewport={"width": 1100, "height": 700})
                await context.add_cookies([{"name": "connect.sid", "value": cookies[0], "url": base}])
                await context.add_init_script(PAGE_PROBE)
                page = await context.new_page()
                say("browser open")
                fast = await run_install(port, cookies, http, host["id"], "1", args.lines, page, server.pid)
                slow = await run_install(port, cookies, http, host["id"], "2", 200, None, server.pid)
                await browser.close()
        print(json.dumps({"fast": fast, "slow_20_lines_per_s": slow}, indent=1))
    finally:
        server.terminate()
        server.wait(15)
        log.close()
        cleanup(sshd)


if __name__ == "__main__":
    asyncio.run(main())
