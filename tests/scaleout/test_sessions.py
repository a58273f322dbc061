"""Sessions across instances on real PostgreSQL: revocations committed out of id order,
and a sliding expiry kept alive on another instance."""

from __future__ import annotations

import asyncio

import asyncpg

from productdemo.services.users.sessions import hash_session_id
from tests.scaleout.cluster import Cluster, Tabs
from tests.support import MS


def session_hash(cookie: str) -> str:
    """The hash the database keeps for the session a ``connect.sid`` value names."""
    return hash_session_id(cookie.rsplit(".", 1)[0])


async def test_a_revocation_that_commits_after_a_later_one_still_ends_the_session(
    cluster: Cluster, db: asyncpg.Connection, tabs: Tabs
) -> None:
    """Transaction A takes a revocation id and waits; B's logout takes a higher id, commits and
    is applied on instance X; then A commits: X still ends A's session (socket and cookie)."""
    (x, y), carol_id, _ = await asyncio.gather(
        cluster.start(2), cluster.create_user("carol"), cluster.create_user("dave")
    )
    carol, dave = await cluster.login(x, "carol"), await cluster.login(y, "dave")
    carol_tab = await tabs.open(x, carol, "carol@X")
    dave_tab = await tabs.open(x, dave, "dave@X")

    slow = await asyncpg.connect(dsn_of(cluster), timeout=3)
    try:
        transaction = slow.transaction()
        await transaction.start()
        # What a logout does on some instance, caught between taking its id and committing.
        await slow.execute("DELETE FROM sessions WHERE id_hash = $1", session_hash(carol))
        slow_id = await slow.fetchval(
            "INSERT INTO revocations (user_id, session_hash, reason) VALUES ($1, $2, 'logout') RETURNING id",
            carol_id,
            session_hash(carol),
        )
        async with y.client(dave) as http:
            assert (await http.post("/api/auth/logout")).status_code == 204
        await cluster.expect(dave_tab.closed_with(4401, "logout"))
        assert await db.fetchval("SELECT max(id) FROM revocations") > slow_id
        await transaction.commit()
    finally:
        await slow.close()

    await cluster.expect(carol_tab.closed_with(4401, "logout", 3000 * MS))
    async with x.client(carol) as http:
        assert (await http.get("/api/auth/me")).status_code == 401


async def test_a_session_kept_alive_on_one_instance_is_not_expired_on_another(
    cluster: Cluster, tabs: Tabs
) -> None:
    """With a short lifetime, REST activity on instance Y keeps the session of an idle socket
    on instance X alive: X reads the slid expiry instead of closing the socket as expired."""
    (x, y), _ = await asyncio.gather(
        cluster.start(2, PRODUCTDEMO_SECURITY_SESSION_LIFETIME="3"), cluster.create_user("erin")
    )
    cookie = await cluster.login(y, "erin")
    tab = await tabs.open(x, cookie, "erin@X")
    async with y.client(cookie) as http:
        for _ in range(12):
            assert (await http.get("/api/auth/me")).status_code == 200
            await asyncio.sleep(500 * MS)
    assert not tab.closed.is_set(), cluster.logs()
    # Without activity anywhere, the session does end, and X closes the socket.
    await cluster.expect(tab.closed_with(4401, "expired", 8000 * MS))


def dsn_of(cluster: Cluster) -> str:
    return cluster.database_url.replace("postgresql+asyncpg", "postgresql")
