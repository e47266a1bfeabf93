"""What the benchmark scripts share: percentiles and the warm round-trip loop."""
import time


def pct(values, p):
    """The p-th percentile (nearest rank) of the samples."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def warm_round_trip(sched, name: str, n: int) -> list:
    """n sequential invocations of an already warm function, in microseconds each."""
    await sched.invoke(name, b"{}")
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await sched.invoke(name, b"{}")
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples
