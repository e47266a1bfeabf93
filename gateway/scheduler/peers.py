"""Who is on the other end of a loopback TCP connection: the process that holds the socket.

A worker's Runtime API endpoint is a TCP port on 127.0.0.1 (official runtime clients need
host:port), so any process on the machine could connect to it. The endpoint serves only the
worker's own process tree: the client socket's inode, from /proc/net/tcp, must be one of the file
descriptors of the worker or of a process it started. This runs once per connection; runtime
clients keep theirs open.
"""
from __future__ import annotations

import os
import socket
import struct
from typing import Iterable, Optional


def _hex_address(address: tuple) -> str:
    """/proc/net/tcp's form of an IPv4 (host, port): the address in host byte order, in hex."""
    host, port = address[:2]
    packed = socket.inet_aton(host)
    return "%08X:%04X" % (struct.unpack("=I", packed)[0], port)


def socket_inode(client: tuple, server: tuple) -> Optional[int]:
    """The inode of the client's end of the connection client -> server, or None."""
    needle = f" {_hex_address(client)} {_hex_address(server)} "
    try:
        with open("/proc/net/tcp") as f:
            table = f.read()
    except OSError:
        return None
    at = table.find(needle)
    if at < 0:
        return None
    line_end = table.find("\n", at)
    fields = table[at:line_end if line_end >= 0 else None].split()
    try:
        return int(fields[8])       # local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode
    except (IndexError, ValueError):
        return None


def holder_of(inode: int, pids: Iterable[int]) -> Optional[int]:
    """The first of `pids` that has the socket `inode` open, or None."""
    target = f"socket:[{inode}]"
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    return pid
            except OSError:
                pass
    return None


def all_pids() -> list:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def describe(pid: Optional[int]) -> str:
    """`pid 123 (node /var/task/index.mjs)` for a log line."""
    if pid is None:
        return "an unknown process"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        cmdline = "?"
    return f"pid {pid} ({cmdline[:120]})"
