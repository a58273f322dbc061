"""Ids that must be unique in this process and differ from the last process's: connection
ids and the epochs of in-process history.

One random prefix per process and a counter: ``secrets.token_hex`` per id read the
kernel's random source on every upgrade (5 % of an upgrade's cost, ``docs/performance.md``).
Neither id is a secret; both only name things. (Redis epochs, which several instances
create, stay fully random: ``broker_redis.py``.)
"""

from __future__ import annotations

import itertools
import secrets

_PREFIX = secrets.token_hex(4)
_COUNTER = itertools.count(1)


def process_unique() -> str:
    """A new id: this process's random prefix, then a counter in hex."""
    return f"{_PREFIX}{next(_COUNTER):x}"
