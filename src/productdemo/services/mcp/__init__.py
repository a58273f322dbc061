"""MCP servers installed on remote hosts over SSH, with their output live in the browser.

::

    hosts.py      add a host, scan and pin its host key; credentials sealed by vault.py
    installs.py   start / cancel / verify-again / read an install (what the routes call)
    worker.py     claims queued installs with a lease, ends those whose instance died
    runner.py     one install on this instance: connect, run, stream, verify, final state
    remote.py     the SSH side: pinned connect, the process-group wrapper, killing the group
    output.py     bytes -> whole UTF-8 text -> coalesced frames with byte offsets
    logstore.py   the stored log: bounded head + rolling tail, read back by offset
    verify.py     speaks MCP to the launched server with the official SDK's client session
    audit.py      who ran what where, and how it ended
    access.py     who may follow ``mcp_install:<id>`` (administrators)
"""

import warnings

# asyncssh 2.24 names cryptography's DSA classes at import, which cryptography 51 deprecates;
# asyncssh never offers DSA here. Importing it once, first, keeps that noise out of every start.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh  # noqa: F401
