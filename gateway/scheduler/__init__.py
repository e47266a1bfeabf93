"""Running functions: warm pools, worker processes, zygotes that fork them, deadlines, tallies, and
the per-worker Runtime API server for non-Python runtimes; asyncio glue over `_core`."""
from gateway.scheduler.scheduler import Scheduler

__all__ = ["Scheduler"]
