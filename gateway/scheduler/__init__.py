"""Worker processes, zygotes, warm pools, deadlines: asyncio glue over `_core`."""
from gateway.scheduler.scheduler import Scheduler, SchedulerConfig

__all__ = ["Scheduler", "SchedulerConfig"]
