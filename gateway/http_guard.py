"""What keeps one HTTP port alive under abuse: the cap on open connections (the longest-idle
connection makes room for a new one; only when every connection is busy does a newcomer get
503), the limit on a request head's size, the time a client has to send one, and log lines
about refusals that cannot flood the log themselves.

The protocol (gateway/http_protocol.py) asks; this module decides. It knows nothing of uvicorn:
a connection is anything with `transport`, `client` and `eviction_rank()`.
"""
from __future__ import annotations

import resource
from typing import Iterable, Optional

from gateway.logs import RefusalLog


def raise_open_files_limit() -> int:
    """Raise this process's RLIMIT_NOFILE soft limit to its hard limit; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # a hard limit the kernel will not grant (nr_open): keep what we have
            pass
    return soft


def connection_cap(wanted: int, ports: int, open_files_limit: Optional[int] = None) -> int:
    """Connections each of `ports` may hold so that all of them together leave a quarter of the
    open-files limit (at least 128 descriptors) to workers, pipes, log files and the event store."""
    if open_files_limit is None:
        open_files_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    spare = max(128, open_files_limit // 4)
    return max(16, min(wanted, (open_files_limit - spare) // max(1, ports)))


class ConnectionGuard(RefusalLog):
    """One per listening port: shared by all of its connections."""

    def __init__(self, name: str, max_connections: int, max_head_bytes: int, header_timeout_s: float):
        super().__init__(name)
        self.max_connections = max_connections
        self.max_head_bytes = max_head_bytes
        self.header_timeout_s = header_timeout_s

    def admit(self, newcomer, connections: Iterable) -> bool:
        """Whether a new connection may stay. At the cap, the longest-idle connection (waiting for
        a request, or still sending its head) is closed to make room; False when every other
        connection has a request in progress."""
        open_now = len(connections)   # the newcomer is already counted
        if open_now <= self.max_connections:
            return True
        victim = None
        best = None
        closing = 0
        for conn in connections:
            if conn is newcomer:
                continue
            if conn.transport.is_closing():
                closing += 1    # its place is already being freed
                continue
            rank = conn.eviction_rank()
            if rank is not None and (best is None or rank < best):
                victim, best = conn, rank
        if open_now - closing <= self.max_connections:
            return True
        if victim is None:
            self.refused(newcomer.client, f"{open_now - 1} connections open, all busy (the limit is "
                                          f"{self.max_connections}): answered 503",
                         key="busy")
            return False
        self.refused(victim.client, f"{open_now - 1} connections open (the limit is {self.max_connections}): "
                                    "closed the longest-idle one to admit a new client", key="evicted")
        victim.transport.close()
        return True
