"""How many sockets one user and one client address may hold open on this instance.

Checked at the door, before the upgrade is accepted: a client over its share gets an
HTTP 429 instead of a socket. The per-user cap is the one that bounds abuse (a browser
rarely has more than a few dozen tabs); the per-address cap stays high so an office
behind one NAT address is never locked out.
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar

K = TypeVar("K")


class SocketQuota:
    def __init__(self, per_user: int, per_address: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.users: Counter[int] = Counter()
        self.addresses: Counter[str] = Counter()

    def acquire(self, user_id: int, address: str) -> str | None:
        """Count one more socket; the reason it is refused (nothing counted), or None."""
        if self.users[user_id] >= self.per_user:
            return f"too many open sockets for this user (at most {self.per_user}); close some tabs"
        if self.addresses[address] >= self.per_address:
            return f"too many open sockets from this address (at most {self.per_address})"
        self.users[user_id] += 1
        self.addresses[address] += 1
        return None

    def release(self, user_id: int, address: str) -> None:
        _decrement(self.users, user_id)
        _decrement(self.addresses, address)


def _decrement(counter: Counter[K], key: K) -> None:
    left = counter[key] - 1
    if left > 0:
        counter[key] = left
    else:
        del counter[key]
