# ruff: noqa: T201
"""Load driver for ProductDemo's /ws and, with the same measurement, the raw `websockets` peer.

A raw asyncio Protocol client on uvloop: the upgrade request is written by hand, server
frames are parsed just enough to find a timestamp, pings are answered with pongs. One
receive time is taken per ``data_received`` chunk.

Targets (``--target``):
  productdemo  ``GET /ws`` with ``Cookie: connect.sid=<session i>`` and ``Origin``; the
               trigger is K ``POST /api/admin/broadcast`` requests with the admin's cookie,
               sent back-to-back over ``--trigger-conns`` keep-alive HTTP connections, each
               with body ``{"message": "bench <time_ns>"}`` (or ``"userId"`` for targeted).
               Latency = receive time - the time_ns put in the message just before its POST
               is written, so it INCLUDES the HTTP trigger hop (parse, FastAPI, auth, publish).
               With ``--trigger burst`` (the server started by ``burst_serve.py``) the trigger
               is the peers' instead: one ``POST`` on PORT+1000, K events published and
               stamped (``"ts":``) inside the server.
  websockets   a shared peer with a trigger (``ws_websockets.py PORT``, ``ws_picows.py PORT``);
               trigger ``POST`` on PORT+1000 ``?mode=all|user&k=K``. Its frames carry
               ``"ts": <time_ns>`` taken when the server builds each message, so its latency
               starts inside the server.
  peer         any other shared peer (e.g. ``fastapi_app.py`` on uvicorn): ``GET /ws?uid=u<i>``,
               no cookie; used for idle and handshake only.

Scenarios (``--scenario``):
  fanout     N sockets; K messages to everyone. msg/s = delivered / (last receipt - first trigger).
  targeted   N sockets (one per user); K rounds of one message per user (N*K POSTs for ours).
  idle       VmRSS of --server-pid before/after opening N sockets -> KiB per connection.
  handshake  open N sockets, --concurrency in flight -> upgrades per second.
  openloop   N sockets; one event to everyone every N/--rate seconds for --duration seconds,
             on a fixed schedule whatever the server's progress (open loop): latency
             p50/p99/max at an offered rate instead of at saturation. Peer-style triggers only.

Prints one JSON object. Every wait is bounded (--timeout, --handshake-timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import struct
import time
from array import array

import uvloop
from wsclient import cpu_sched_s, rss_kib

time_ns = time.time_ns
CLK = os.sysconf("SC_CLK_TCK")
SPLIT_PID = [0]  # --split-pid: its CPU is added to --server-pid's
CLOSE_FRAME = b"\x88\x82\x00\x00\x00\x00\x03\xe8"  # masked (zero key) close 1000


def pong(payload: bytes) -> bytes:
    # Client frames must be masked; a zero key leaves the payload as is (RFC 6455 5.3).
    return bytes((0x8A, 0x80 | len(payload))) + b"\x00\x00\x00\x00" + payload


def cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` (and of ``--split-pid``'s second instance), from schedstat.

    ``/proc/PID/stat`` counts clock ticks (10 ms here), too coarse for a burst that costs
    the server a few tens of milliseconds.
    """
    cpu = cpu_sched_s(pid)
    return cpu + (cpu_s(SPLIT_PID[0]) if SPLIT_PID[0] and pid != SPLIT_PID[0] else 0.0)


def cpu0_busy_s() -> float:
    """Busy time of CPU 0 (the server's), all processes and softirqs: shows interference."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu0 "):
                v = [int(x) for x in line.split()[1:]]
                return (sum(v[:8]) - v[3] - v[4]) / CLK
    return 0.0


def pct(values: list[int] | list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


class Stats:
    def __init__(self, marker: bytes) -> None:
        self.marker = marker  # bytes just before the 19-digit time_ns in a counted frame
        self.lat = array("q")
        self.expect = 0
        self.remaining = 0
        self.done: asyncio.Future[None] | None = None
        self.last_rx = 0
        self.closed = 0
        self.wrong_user = 0
        self.fail_samples: list[str] = []


class Client(asyncio.Protocol):
    __slots__ = ("buf", "count", "head", "opened", "request", "st", "transport", "uid")

    def __init__(self, st: Stats, request: bytes, opened: asyncio.Future[None], uid: bytes) -> None:
        self.st = st
        self.request = request
        self.opened = opened
        self.uid = uid
        self.transport: asyncio.Transport | None = None
        self.head: bytes | None = b""
        self.buf = b""
        self.count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.st.closed += 1
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the upgrade: {exc}"))

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 101"):
                if len(self.st.fail_samples) < 3:
                    self.st.fail_samples.append(self.head[:200].decode("latin-1"))
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(self.head[:40].decode("latin-1")))
                self.transport.close()
                return
            data = self.head[end + 4 :]
            self.head = None
            if not self.opened.done():
                self.opened.set_result(None)
            if not data:
                return
        now = time_ns()
        buf = self.buf + data if self.buf else data
        n = len(buf)
        pos = 0
        st = self.st
        marker = st.marker
        skip = len(marker)
        find = buf.find
        got = 0
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                start = pos + 2
            elif length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                start = pos + 4
            else:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 1:
                i = find(marker, start, end)
                if i >= 0:
                    i += skip
                    st.lat.append(now - int(buf[i : i + 19]))
                    got += 1
                    if self.uid and find(self.uid, start, end) < 0:
                        st.wrong_user += 1
            elif opcode == 9:
                self.transport.write(pong(buf[start:end]))
            elif opcode == 8:
                self.transport.write(CLOSE_FRAME)
            pos = end
        self.buf = buf[pos:] if pos < n else b""
        if got:
            before = self.count
            self.count = before + got
            if before < st.expect <= self.count:
                if now > st.last_rx:
                    st.last_rx = now
                st.remaining -= 1
                if st.remaining == 0 and st.done is not None and not st.done.done():
                    st.done.set_result(None)


class Driver:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.ours = a.target == "productdemo"
        # Whether the trigger is the peers' one-request burst (every target but ours by POSTs).
        self.burst = not self.ours or a.trigger == "burst"
        self.origin = f"http://127.0.0.1:{a.port}"
        marker = b'"ts": ' if not self.ours else b'"ts":' if self.burst else b'"message":"bench '
        self.st = Stats(marker)
        self.clients: list[Client] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self.hs_lat = array("d")
        self.post_rtt: list[float] = []
        self.written_ms: list[float] = []
        if self.ours:
            with open(a.sessions) as f:
                s = json.load(f)
            self.admin_cookie = s["admin"]["cookie"]
            self.users = s["users"]
            if len(self.users) < a.n:
                raise SystemExit(f"{a.sessions} has {len(self.users)} sessions, -n is {a.n}")
        self.src_ips = [f"127.0.0.{j}" for j in range(1, a.src_ips + 1)]

    def ws_port(self, i: int) -> int:
        """Odd sockets go to ``--split-port`` (a second instance) when it is given."""
        return self.a.split_port if self.a.split_port and i % 2 else self.a.port

    def upgrade_request(self, i: int) -> tuple[bytes, bytes]:
        port = self.ws_port(i)
        lines = [
            "GET /ws HTTP/1.1" if self.ours else f"GET /ws?uid=u{i} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ]
        if self.ours:
            user = self.users[i]
            lines += [f"Cookie: connect.sid={user['cookie']}", f"Origin: http://127.0.0.1:{port}"]
            uid = b'"stream":"user:%d"' % user["id"]
        else:
            uid = b'"u%d"' % i
        return ("\r\n".join(lines) + "\r\n\r\n").encode(), uid

    async def open_all(self, n: int, concurrency: int) -> None:
        loop = asyncio.get_running_loop()
        next_i = 0
        check_user = self.a.scenario == "targeted"

        async def worker() -> None:
            nonlocal next_i
            while next_i < n:
                i = next_i
                next_i += 1
                request, uid = self.upgrade_request(i)
                opened: asyncio.Future[None] = loop.create_future()
                t0 = time.perf_counter()
                src = self.src_ips[i % len(self.src_ips)]
                try:
                    _, client = await asyncio.wait_for(
                        loop.create_connection(
                            lambda r=request, u=uid, o=opened: Client(
                                self.st, r, o, u if check_user else b""
                            ),
                            "127.0.0.1",
                            self.ws_port(i),
                            local_addr=(src, 0),
                        ),
                        self.a.handshake_timeout,
                    )
                    await asyncio.wait_for(opened, self.a.handshake_timeout)
                except Exception as exc:
                    self.errors += 1
                    if len(self.error_samples) < 3:
                        self.error_samples.append(repr(exc)[:200])
                    continue
                self.hs_lat.append(time.perf_counter() - t0)
                self.clients.append(client)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))

    # --- triggers -----------------------------------------------------------------------

    async def trigger_ours(self, bodies: list[dict[str, object]]) -> list[int]:
        """POST each body to /api/admin/broadcast, stamping it just before it is written."""
        a = self.a
        statuses: list[int] = []
        queue = list(reversed(bodies))

        async def conn() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", a.port)
            head = (
                f"POST /api/admin/broadcast HTTP/1.1\r\nHost: 127.0.0.1:{a.port}\r\n"
                f"Origin: {self.origin}\r\nCookie: connect.sid={self.admin_cookie}\r\n"
                "Content-Type: application/json\r\n"
            ).encode()
            try:
                while queue:
                    body = dict(queue.pop())
                    sent = time_ns()
                    body["message"] = f"bench {sent}"
                    data = json.dumps(body).encode()
                    writer.write(head + b"Content-Length: %d\r\n\r\n" % len(data) + data)
                    status_line = await reader.readuntil(b"\r\n\r\n")
                    status = int(status_line.split(b" ", 2)[1])
                    length = 0
                    for line in status_line.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    await reader.readexactly(length)
                    statuses.append(status)
                    self.post_rtt.append((time_ns() - sent) / 1e6)
            finally:
                writer.close()

        await asyncio.gather(*(conn() for _ in range(a.trigger_conns)))
        return statuses

    async def trigger_peer(self, mode: str, k: int) -> list[int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.a.port + 1000)
        writer.write(
            f"POST /trigger?mode={mode}&k={k} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        data = await reader.read()
        writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if body.startswith(b"{"):
            # burst_serve.py says when the last frame of the burst was handed to the kernel.
            written = json.loads(body).get("written_ms")
            if written is not None:
                self.written_ms.append(written)
        return [int(head.split(b" ", 2)[1])]

    async def round(self, k: int) -> tuple[int, bool, list[int]]:
        """Trigger k messages per socket and wait (bounded) until every socket has them."""
        a, st = self.a, self.st
        st.expect += k
        st.remaining = sum(1 for c in self.clients if c.count < st.expect)
        st.done = asyncio.get_running_loop().create_future()
        st.last_rx = 0
        mode = "all" if a.scenario == "fanout" else "user"
        t0 = time_ns()
        if self.burst:
            trig = asyncio.ensure_future(self.trigger_peer(mode, k))
        elif mode == "all":
            trig = asyncio.ensure_future(self.trigger_ours([{}] * k))
        else:
            ids = [u["id"] for u in self.users[: len(self.clients)]]
            trig = asyncio.ensure_future(
                self.trigger_ours([{"userId": uid} for _ in range(k) for uid in ids])
            )
        try:
            await asyncio.wait_for(asyncio.shield(st.done), a.timeout)
            complete = True
        except TimeoutError:
            complete = False
        try:
            statuses = await asyncio.wait_for(trig, 30)
        except Exception:
            statuses = [-1]
        return t0, complete, statuses

    async def open_loop(self, rate: float, duration: float) -> tuple[int, float]:
        """Trigger one event to everyone at ``rate`` deliveries per second; (events, seconds)."""
        loop = asyncio.get_running_loop()
        interval = len(self.clients) / rate
        events = max(1, round(duration / interval))
        triggers = []
        start = loop.time()
        for i in range(events):
            # A fixed schedule: a late server does not slow down what is offered.
            await asyncio.sleep(max(0.0, start + i * interval - loop.time()))
            triggers.append(asyncio.ensure_future(self.trigger_peer("all", 1)))
        expected = events * len(self.clients)
        deadline = loop.time() + self.a.timeout
        while len(self.st.lat) < expected and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.gather(*triggers, return_exceptions=True)
        return events, loop.time() - start

    def close_all(self) -> None:
        for c in self.clients:
            sock = c.transport.get_extra_info("socket")
            if sock is not None:  # RST instead of FIN: no TIME_WAIT left for the next run
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.transport.abort()
        self.clients = []


async def run(a: argparse.Namespace) -> dict[str, object]:
    d = Driver(a)
    st = d.st
    pid = a.server_pid
    res: dict[str, object] = {"target": a.target, "scenario": a.scenario, "n": a.n, "k": a.k}
    if a.scenario == "idle":
        await asyncio.sleep(a.settle)
        rss0 = rss_kib(pid)
        await d.open_all(a.n, a.concurrency)
        await asyncio.sleep(a.idle_wait)
        rss1 = rss_kib(pid)
        opened = len(d.clients)
        res.update(
            opened=opened,
            rss_before_kib=rss0,
            rss_after_kib=rss1,
            kib_per_conn=(rss1 - rss0) / opened if opened else None,
            still_open=opened - st.closed,
        )
    elif a.scenario == "handshake":
        await asyncio.sleep(a.settle)
        c0, b0 = cpu_s(pid), cpu0_busy_s()
        t0 = time.perf_counter()
        await d.open_all(a.n, a.concurrency)
        elapsed = time.perf_counter() - t0
        c1, b1 = cpu_s(pid), cpu0_busy_s()
        hs = sorted(d.hs_lat)
        opened = len(d.clients)
        res.update(
            opened=opened,
            elapsed_s=elapsed,
            conn_per_s=opened / elapsed,
            hs_p50_ms=pct(hs, 0.5) * 1e3 if hs else None,
            hs_p99_ms=pct(hs, 0.99) * 1e3 if hs else None,
            server_cpu_us_per_conn=(c1 - c0) * 1e6 / opened if opened else None,
            server_cpu_util=(c1 - c0) / elapsed,
            cpu0_busy_util=(b1 - b0) / elapsed,
        )
    elif a.scenario == "openloop":
        await d.open_all(a.n, a.concurrency)
        opened = len(d.clients)
        res["opened"] = opened
        if opened:
            await asyncio.sleep(a.settle)
            st.lat = array("q")
            st.expect = 1 << 62  # counted by total below, not per socket
            c0 = cpu_s(pid)
            events, elapsed = await d.open_loop(a.rate, a.duration)
            c1 = cpu_s(pid)
            got = len(st.lat)
            lat = sorted(st.lat)
            res.update(
                offered_msg_per_s=a.rate,
                events=events,
                expected=events * opened,
                delivered=got,
                complete=got == events * opened,
                lat_p50_ms=pct(lat, 0.5) / 1e6 if lat else None,
                lat_p99_ms=pct(lat, 0.99) / 1e6 if lat else None,
                lat_max_ms=lat[-1] / 1e6 if lat else None,
                server_cpu_util=(c1 - c0) / elapsed if elapsed > 0 else None,
                server_cpu_us_per_msg=(c1 - c0) * 1e6 / got if got else None,
            )
    else:
        await d.open_all(a.n, a.concurrency)
        opened = len(d.clients)
        res["opened"] = opened
        if opened:
            await asyncio.sleep(a.settle)
            if a.warmup:
                _, ok, _ = await d.round(a.warmup)
                res["warmup_complete"] = ok
                res["warmup_delivered"] = len(st.lat)
                await asyncio.sleep(0.3)
                # Count the measured round on its own, even if warm-up frames were lost.
                st.expect = 0
                for c in d.clients:
                    c.count = 0
            st.lat = array("q")
            st.wrong_user = 0
            c0, cc0, b0 = cpu_s(pid), time.process_time(), cpu0_busy_s()
            t0, ok, statuses = await d.round(a.k)
            t_end = st.last_rx if ok else time_ns()
            c1, cc1, b1 = cpu_s(pid), time.process_time(), cpu0_busy_s()
            elapsed = (t_end - t0) / 1e9
            got = len(st.lat)
            lat = sorted(st.lat)
            res.update(
                complete=ok,
                trigger_requests=len(statuses),
                trigger_non_2xx=sum(1 for s in statuses if not 200 <= s < 300),
                expected=opened * a.k,
                delivered=got,
                elapsed_s=elapsed,
                msg_per_s=got / elapsed if elapsed > 0 else None,
                lat_p50_ms=pct(lat, 0.5) / 1e6 if lat else None,
                lat_p99_ms=pct(lat, 0.99) / 1e6 if lat else None,
                lat_max_ms=lat[-1] / 1e6 if lat else None,
                wrong_user=st.wrong_user,
                server_written_ms=d.written_ms[-1] if d.written_ms else None,
                post_rtt_p50_ms=pct(sorted(d.post_rtt), 0.5),
                post_rtt_max_ms=max(d.post_rtt, default=None),
                server_cpu_us_per_msg=(c1 - c0) * 1e6 / got if got else None,
                server_cpu_util=(c1 - c0) / elapsed if elapsed > 0 else None,
                driver_cpu_util=(cc1 - cc0) / elapsed if elapsed > 0 else None,
                cpu0_busy_util=(b1 - b0) / elapsed if elapsed > 0 else None,
            )
    res.update(
        conn_errors=d.errors,
        error_samples=d.error_samples,
        refusals=st.fail_samples,
        closed_by_server=st.closed,
    )
    d.close_all()
    await asyncio.sleep(0.2)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--target",
        choices=["productdemo", "websockets", "peer"],
        required=True,
        help="peer: any shared peer (no trigger port needed for idle/handshake)",
    )
    p.add_argument(
        "--scenario", choices=["fanout", "targeted", "idle", "handshake", "openloop"], required=True
    )
    p.add_argument(
        "--trigger",
        choices=["post", "burst"],
        default="post",
        help="productdemo: POST /api/admin/broadcast per message, or burst_serve.py's one trigger",
    )
    p.add_argument("--rate", type=float, default=20000, help="openloop: offered deliveries per second")
    p.add_argument("--duration", type=float, default=10, help="openloop: seconds of offered load")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("-n", type=int, default=1000, help="sockets")
    p.add_argument("-k", type=int, default=100, help="messages per socket")
    p.add_argument("--sessions", help="JSON from setup_sessions.py (productdemo)")
    p.add_argument("--server-pid", type=int, required=True, help="for CPU and RSS readings")
    p.add_argument("--concurrency", type=int, default=200, help="upgrades in flight")
    p.add_argument("--trigger-conns", type=int, default=4, help="keep-alive connections for the POSTs")
    p.add_argument("--src-ips", type=int, default=4, help="source addresses 127.0.0.1..n")
    p.add_argument("--warmup", type=int, default=2, help="messages per socket in an unmeasured round")
    p.add_argument("--timeout", type=float, default=60, help="max seconds for one round")
    p.add_argument("--handshake-timeout", type=float, default=30)
    p.add_argument("--settle", type=float, default=0.5)
    p.add_argument("--idle-wait", type=float, default=3.0)
    p.add_argument("--split-port", type=int, default=0, help="second instance: odd sockets connect here")
    p.add_argument(
        "--split-pid", type=int, default=0, help="second instance's pid (CPU added to the first's)"
    )
    a = p.parse_args()
    SPLIT_PID[0] = a.split_pid
    if a.target == "productdemo" and not a.sessions:
        p.error("--sessions is required for productdemo")
    if a.scenario == "openloop" and a.target == "productdemo" and a.trigger != "burst":
        p.error("openloop needs a one-request trigger: --trigger burst for productdemo")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps(uvloop.run(run(a))), flush=True)


if __name__ == "__main__":
    main()
