"""A real OpenSSH ``sshd`` on a loopback port for the MCP tests, with keys made at test time.

The daemon runs as root (it must, to log in other users) and accepts public keys only, for
``root`` and for a throwaway non-root user created here (OpenSSH treats the two differently:
it refuses channel signals for root, which is why installs are cancelled by process group).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import skip_or_fail
from tests.scaleout.cluster import free_port
from tests.support import MS

SSHD = Path("/usr/sbin/sshd")
NON_ROOT_USER = "pdmcptest"

#: A small stdio MCP server written with the SDK's server API: two tools.
MCP_SERVER = '''
from mcp.server.mcpserver import MCPServer

server = MCPServer("productdemo-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say it back."""
    return text


server.run()
'''


def keygen(path: Path) -> str:
    """Make an ed25519 key pair at ``path``; returns the private key text."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def fingerprint_of(public_key: Path) -> str:
    """The key's SHA-256 fingerprint as OpenSSH prints it (``SHA256:…``)."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)], capture_output=True, check=True
    )
    return out.stdout.decode().split()[1]


@dataclass
class Sshd:
    root: Path
    port: int
    #: Private keys authorized for root and for the non-root user (None if none could be made).
    root_key: str
    user_key: str
    non_root_user: str | None
    proc: subprocess.Popen[bytes] | None = None
    #: Accept passwords too (for the optional password login of a host).
    password_auth: bool = False

    @property
    def mcp_server_command(self) -> str:
        """The launch command of the test MCP server (runs as root: the venv lives under /root)."""
        return f"{sys.executable} {self.root / 'mcp_server.py'}"

    def set_password(self, password: str) -> None:
        """Give the non-root user a password (and let sshd accept passwords from now on)."""
        assert self.non_root_user is not None
        subprocess.run(["chpasswd"], input=f"{self.non_root_user}:{password}".encode(), check=True)
        self.password_auth = True

    async def restart(self) -> None:
        self.stop()
        self.start()
        await self.wait_ready()

    def start(self, host_key: str = "host_key") -> None:
        config = self.root / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.root / host_key}\n"
            f"PidFile {self.root / 'sshd.pid'}\nAuthorizedKeysFile {self.root}/authorized_keys_%u\n"
            f"PubkeyAuthentication yes\nPasswordAuthentication {'yes' if self.password_auth else 'no'}\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nMaxStartups 100\n"
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        with (self.root / "sshd.log").open("ab") as log:
            self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=log)

    async def wait_ready(self) -> None:
        for _ in range(200):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.025)
        raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    async def restart_with_new_host_key(self) -> None:
        """The same host, a new host key: what a reinstalled (or impersonated) host looks like."""
        self.stop()
        keygen(self.root / "host_key_2")
        self.start("host_key_2")
        await self.wait_ready()

    async def pgrep(self, pattern: str) -> list[str]:
        """Processes on the 'remote' host whose command line matches ``pattern``."""
        proc = await asyncio.create_subprocess_exec("pgrep", "-af", pattern, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return [line for line in out.decode().splitlines() if "pgrep" not in line]


def _ensure_user() -> str | None:
    try:
        pwd.getpwnam(NON_ROOT_USER)
    except KeyError:
        made = subprocess.run(
            ["useradd", "-m", "-s", "/bin/sh", NON_ROOT_USER], capture_output=True, check=False
        )
        if made.returncode != 0:
            return None
    # A locked password ('!') makes sshd refuse even key logins without PAM; '*' allows keys only.
    subprocess.run(["usermod", "-p", "*", NON_ROOT_USER], capture_output=True, check=False)
    return NON_ROOT_USER


async def start_sshd() -> Sshd:
    """Start sshd (skip, or fail under PRODUCTDEMO_REQUIRE_SERVICES=1, when it cannot run)."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        skip_or_fail(f"{SSHD} or ssh-keygen is missing (apt-get install openssh-server)")
    if os.geteuid() != 0:
        skip_or_fail("the sshd tests run sshd as root, to log in root and a non-root user")
    root = Path(tempfile.mkdtemp(prefix="pdsshd-"))
    root.chmod(0o755)
    keygen(root / "host_key")
    root_key = keygen(root / "root_key")
    user_key = keygen(root / "user_key")
    (root / "authorized_keys_root").write_text((root / "root_key.pub").read_text())
    user = _ensure_user()
    if user is not None:
        path = root / f"authorized_keys_{user}"
        path.write_text((root / "user_key.pub").read_text())
        path.chmod(0o644)
    (root / "mcp_server.py").write_text(MCP_SERVER)
    sshd = Sshd(root, free_port(), root_key, user_key, user)
    sshd.start()
    await sshd.wait_ready()
    return sshd


def cleanup(sshd: Sshd) -> None:
    sshd.stop()
    shutil.rmtree(sshd.root, ignore_errors=True)


WAIT = 20000 * MS
