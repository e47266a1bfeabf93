"""Pure-Python twin of the native core: the same classes, the same behaviour.

Used when the Cython extension is not built or LAMBDAGATE_PUREPYTHON=1. The test
suite runs against both, so any behaviour change goes into both files.
"""
from __future__ import annotations

import heapq
import struct

IMPLEMENTATION = "python"

# Pools.acquire outcomes other than a worker id.
COLD = -1
THROTTLED_RESERVED = -2
THROTTLED_ACCOUNT = -3

# Tally statuses.
STATUS_SUCCESS = 0
STATUS_ERROR = 1
STATUS_TIMEOUT = 2

_FRAME_HEAD = struct.Struct(">II")
FRAME_HEAD_BYTES = _FRAME_HEAD.size


# --------------------------------------------------------------------------- deadlines

class DeadlineHeap:
    """Deadlines keyed by a small non-negative integer token (0..MAX_TOKEN), earliest first.

    pop_expired() reports tokens by (deadline, token): ties go to the smaller token.
    O(log n) cancel: a cancelled entry stays in the heap until it reaches the top, and
    an entry is live only while _entries maps its token to that very entry.
    """

    MAX_TOKEN = (1 << 20) - 1  # the native heap indexes a position table by token

    def __init__(self):
        self._heap: list = []          # [deadline_ns, token] entries, live or stale
        self._entries: dict = {}       # token -> live entry

    def push(self, deadline_ns: int, token: int) -> None:
        if token < 0 or token > self.MAX_TOKEN:
            raise ValueError(f"token must be in 0..{self.MAX_TOKEN}, got {token}")
        if token in self._entries:
            self.cancel(token)
        entry = [deadline_ns, token]
        self._entries[token] = entry
        heapq.heappush(self._heap, entry)

    def cancel(self, token: int) -> bool:
        if self._entries.pop(token, None) is None:
            return False
        self._drop_dead()
        return True

    def _drop_dead(self) -> None:
        # Entries are never edited in place: that would reorder them inside the heap.
        heap, entries = self._heap, self._entries
        while heap and entries.get(heap[0][1]) is not heap[0]:
            heapq.heappop(heap)

    def next_deadline_ns(self) -> int:
        return self._heap[0][0] if self._heap else -1

    def pop_expired(self, now_ns: int) -> list:
        heap, entries, expired = self._heap, self._entries, []
        while heap and heap[0][0] <= now_ns:
            entry = heapq.heappop(heap)
            token = entry[1]
            if entries.get(token) is entry:
                del entries[token]
                expired.append(token)
        self._drop_dead()
        return expired

    def __len__(self) -> int:
        return len(self._entries)


# --------------------------------------------------------------------------- pools

class Pools:
    """Concurrency accounting and warm-worker choice for every function.

    A function index comes from add_function(). Workers are small integer ids chosen
    by the caller. acquire() reserves a concurrency slot and answers with an idle
    worker (most recently used first, as Lambda reuses the warmest environment),
    COLD (start one; the slot stays reserved until release, discard_busy or cold_failed), or a
    THROTTLED_* code.
    """

    def __init__(self, account_limit: int):
        self.account_limit = account_limit
        self._reserved: list = []   # -1 = unreserved
        self._busy: list = []       # busy + starting, per function
        self._idle: list = []       # per function: list of worker ids, oldest first
        self._idle_since: list = []  # per function: parallel list of ns stamps
        self._reserved_total = 0
        self._unreserved_busy = 0

    def add_function(self, reserved: int = -1) -> int:
        self._reserved.append(-1)
        self._busy.append(0)
        self._idle.append([])
        self._idle_since.append([])
        fn = len(self._reserved) - 1
        if reserved >= 0:
            self.set_reserved(fn, reserved)
        return fn

    def set_reserved(self, fn: int, reserved: int) -> None:
        """Change a function's reserved concurrency (-1, or any negative, removes it); running work is kept."""
        if fn < 0:
            raise IndexError(f"no function {fn}")
        if reserved < 0:
            reserved = -1
        old = self._reserved[fn]
        if old >= 0:
            self._reserved_total -= old
        else:
            self._unreserved_busy -= self._busy[fn]
        self._reserved[fn] = reserved
        if reserved >= 0:
            self._reserved_total += reserved
        else:
            self._unreserved_busy += self._busy[fn]

    def reserved(self, fn: int) -> int:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        return self._reserved[fn]

    def acquire(self, fn: int) -> int:
        if fn < 0:  # a list would count from the end; the native build refuses
            raise IndexError(f"no function {fn}")
        reserved = self._reserved[fn]
        if reserved >= 0:
            if self._busy[fn] >= reserved:
                return THROTTLED_RESERVED
        else:
            if self._unreserved_busy >= self.account_limit - self._reserved_total:
                return THROTTLED_ACCOUNT
            self._unreserved_busy += 1
        self._busy[fn] += 1
        idle = self._idle[fn]
        if idle:
            self._idle_since[fn].pop()
            return idle.pop()
        return COLD

    def cold_failed(self, fn: int) -> None:
        self._release_slot(fn)

    def release(self, fn: int, worker: int, now_ns: int) -> None:
        """A busy worker finished and is warm again."""
        self._release_slot(fn)  # refuses an unknown fn before anything changes
        self._idle[fn].append(worker)
        self._idle_since[fn].append(now_ns)

    def discard_busy(self, fn: int) -> None:
        """A busy worker died or was killed: free its slot, keep nothing."""
        self._release_slot(fn)

    def add_idle(self, fn: int, worker: int, now_ns: int) -> None:
        """A worker that is ready but not serving anyone joins the idle stack."""
        if fn < 0:
            raise IndexError(f"no function {fn}")
        self._idle[fn].append(worker)
        self._idle_since[fn].append(now_ns)

    def remove_idle(self, fn: int, worker: int) -> bool:
        """An idle worker died: forget it."""
        if fn < 0:
            raise IndexError(f"no function {fn}")
        idle = self._idle[fn]
        for i in range(len(idle) - 1, -1, -1):
            if idle[i] == worker:
                del idle[i]
                del self._idle_since[fn][i]
                return True
        return False

    def _release_slot(self, fn: int) -> None:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        self._busy[fn] -= 1
        if self._reserved[fn] < 0:
            self._unreserved_busy -= 1

    def reap(self, now_ns: int, keepalive_ns: int) -> list:
        """Idle workers unused for keepalive_ns or longer, removed from the pools."""
        reaped = []
        cutoff = now_ns - keepalive_ns
        for fn in range(len(self._idle)):
            since = self._idle_since[fn]
            n = 0
            while n < len(since) and since[n] <= cutoff:
                n += 1
            if n:
                reaped.extend(self._idle[fn][:n])
                del self._idle[fn][:n]
                del since[:n]
        return reaped

    def take_idle(self, fn: int) -> list:
        """Every idle worker of fn, removed (code reload, shutdown)."""
        if fn < 0:
            raise IndexError(f"no function {fn}")
        workers = self._idle[fn]
        self._idle[fn] = []
        self._idle_since[fn] = []
        return workers

    def busy(self, fn: int) -> int:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        return self._busy[fn]

    def idle(self, fn: int) -> int:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        return len(self._idle[fn])

    def total_busy(self) -> int:
        return sum(self._busy)


# --------------------------------------------------------------------------- tallies

def billed_ms(duration_ns: int, init_ns: int = 0) -> int:
    """Lambda bills duration (plus INIT on a cold start) rounded up to the next 1 ms."""
    total = duration_ns + init_ns
    if total <= 0:
        return 1
    return (total + 999_999) // 1_000_000


def format_ms(ns: int) -> str:
    """Nanoseconds as milliseconds with two decimals, as REPORT lines print them."""
    hundredths = (ns + 5_000) // 10_000  # rounded half up
    if hundredths < 0:  # the sign in front, not folded into floor division's digits
        hundredths = -hundredths
        return f"-{hundredths // 100}.{hundredths % 100:02d}"
    return f"{hundredths // 100}.{hundredths % 100:02d}"


class Tally:
    """Per-function totals: invocations, errors, timeouts, throttles, billing."""

    FIELDS = ("invocations", "errors", "timeouts", "throttles", "cold_starts",
              "duration_ns", "billed_ms", "mb_ms")

    def __init__(self):
        self._rows: list = []

    def add_function(self) -> int:
        self._rows.append([0] * 8)
        return len(self._rows) - 1

    def record(self, fn: int, duration_ns: int, init_ns: int, memory_mb: int, status: int) -> int:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        billed = billed_ms(duration_ns, init_ns)
        row = self._rows[fn]
        row[0] += 1
        if status != STATUS_SUCCESS:
            row[1] += 1
            if status == STATUS_TIMEOUT:
                row[2] += 1
        if init_ns:
            row[4] += 1
        row[5] += duration_ns
        row[6] += billed
        row[7] += billed * memory_mb
        return billed

    def throttle(self, fn: int) -> None:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        self._rows[fn][3] += 1

    def snapshot(self, fn: int) -> dict:
        if fn < 0:
            raise IndexError(f"no function {fn}")
        return dict(zip(self.FIELDS, self._rows[fn]))


# --------------------------------------------------------------------------- frames

class FrameScanner:
    """Splits a byte stream into (header, payload) frames without decoding either."""

    def __init__(self, max_frame_bytes: int = 64 * 1024 * 1024):
        self._buf = bytearray()
        self.max_frame_bytes = max_frame_bytes

    def feed(self, data: bytes) -> list:
        buf = self._buf
        buf += data
        frames = []
        pos, end = 0, len(buf)
        while end - pos >= 4:
            (total,) = struct.unpack_from(">I", buf, pos)
            if total > self.max_frame_bytes or total < 4:
                raise ValueError(f"bad frame length {total}")
            if end - pos - 4 < total:
                break
            (head_len,) = struct.unpack_from(">I", buf, pos + 4)
            if head_len > total - 4:
                raise ValueError(f"bad frame header length {head_len}")
            start = pos + 8
            frames.append((bytes(buf[start:start + head_len]), bytes(buf[start + head_len:pos + 4 + total])))
            pos += 4 + total
        if pos:
            del buf[:pos]
        return frames

    def pending(self) -> int:
        return len(self._buf)


# --------------------------------------------------------------------------- ids

_HEX = "0123456789abcdef"
_MASK48 = (1 << 48) - 1
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class IdGenerator:
    """UUID-v4-shaped request ids, unique within the process and cheap to make.

    A random 80-bit prefix (from the seed the caller passes) plus a 48-bit counter
    scrambled by an odd multiplier, which is a bijection mod 2**48: no repeats for
    2**48 ids and no visible sequence.
    """

    def __init__(self, seed: bytes):
        if len(seed) < 16:
            raise ValueError("seed must be at least 16 bytes")
        s = seed.hex()
        variant = _HEX[8 + (int(s[16], 16) & 3)]
        self._prefix = f"{s[0:8]}-{s[8:12]}-4{s[12:15]}-{variant}{s[15:18]}-"
        self._short_prefix = "".join(_B64[b & 63] for b in seed[:7])
        self._counter = int.from_bytes(seed[10:16], "big")

    def next_id(self) -> str:
        self._counter = (self._counter + 1) & _MASK48
        return f"{self._prefix}{(self._counter * 0x9E3779B97F4B) & _MASK48:012x}"

    def next_short_id(self) -> str:
        """A 16-character opaque id like API Gateway's `LV7fzho-PHcEJPw=`."""
        self._counter = (self._counter + 1) & _MASK48
        v = (self._counter * 0x9E3779B97F4B) & _MASK48
        return self._short_prefix + "".join(_B64[(v >> s) & 63] for s in (42, 36, 30, 24, 18, 12, 6, 0)) + "="
