# ruff: noqa: T201
"""Create an admin, N users and one signed-in session each, without any HTTP login.

Logging in over HTTP costs an argon2 verification (~30 ms) per session, so for
thousands of sockets the accounts and sessions are written straight into the
database of a fresh data directory, through the package itself:

* the migrations (``upgrade_sync``) and the admin (``UserService.create`` and
  ``SessionStore.create``: the real code paths);
* the N users as ``User`` rows sharing one precomputed argon2 hash, and their
  sessions as ``Session`` rows whose cookies are signed by ``SessionStore.sign``,
  all in one transaction (the same rows ``SessionStore.create`` writes, minus one
  commit per session).

The server is started afterwards on the same data directory and secret, so every
session is unknown to its in-memory cache: the first upgrade of each one costs a
database lookup, as after a restart.

Writes a JSON file: {"admin": {"id", "cookie"}, "users": [{"id", "cookie"}, ...]}.

Usage: .venv/bin/python bench/setup_sessions.py DATA_DIR N OUT.json
(the secret comes from PRODUCTDEMO_SECURITY_SECRET_KEY, like the server's)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from productdemo.config import load_config
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore, hash_session_id
from productdemo.storage.database import create_engine, create_session_factory, upgrade_sync
from productdemo.storage.models import Session, User

PASSWORD = "bench-password-123"


async def _populate(config, n: int) -> dict[str, object]:
    engine = create_engine(config.database_url)
    db = create_session_factory(engine)
    store = SessionStore(db, config.secret_key(), config.security.session_lifetime)
    users = UserService(db, store)
    try:
        admin_info = await users.create("admin", PASSWORD, "admin")
        async with db() as s:
            admin_row = await s.get(User, admin_info.id)
        admin_cookie, _ = await store.create(admin_row)

        # The admin's argon2 hash, reused: one hash for every bench user.
        shared_hash = admin_row.password_hash
        now = time.time()
        created = datetime.fromtimestamp(now, UTC)
        expires = datetime.fromtimestamp(now + store.lifetime, UTC)
        async with db() as s:
            await s.execute(
                insert(User),
                [
                    {"username": f"bench{i}", "password_hash": shared_hash, "role": "user", "disabled": False}
                    for i in range(n)
                ],
            )
            ids = (
                await s.scalars(select(User.id).where(User.username.like("bench%")).order_by(User.id))
            ).all()
            cookies = []
            rows = []
            for uid in ids:
                session_id = secrets.token_urlsafe(32)
                rows.append(
                    {
                        "id_hash": hash_session_id(session_id),
                        "user_id": uid,
                        "created_at": created,
                        "expires_at": expires,
                    }
                )
                cookies.append({"id": uid, "cookie": store.sign(session_id)})
            if rows:
                await s.execute(insert(Session), rows)
            await s.commit()
        return {"admin": {"id": admin_info.id, "cookie": admin_cookie}, "users": cookies}
    finally:
        await engine.dispose()


def prepare(data_dir: Path, n: int, out: Path) -> None:
    """Migrate a fresh ``data_dir`` and write ``n`` users' session cookies to ``out``."""
    os.environ["PRODUCTDEMO_STORAGE_DATA_DIR"] = str(data_dir)
    config = load_config()
    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(config.database_url)
    result = asyncio.run(_populate(config, n))
    out.write_text(json.dumps(result))


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    t0 = time.perf_counter()
    prepare(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
    print(f"{sys.argv[2]} sessions in {time.perf_counter() - t0:.1f} s -> {sys.argv[3]}", file=sys.stderr)


if __name__ == "__main__":
    main()
