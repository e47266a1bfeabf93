"""Estimated AWS cost from the scheduler's tallies (us-east-1 list prices, §7.2)."""
from __future__ import annotations

PRICE_PER_REQUEST_USD = 0.0000002
PRICE_PER_GB_S_USD = {"x86_64": 0.0000166667, "arm64": 0.0000133334}


def gb_seconds(mb_ms: int) -> float:
    """Memory (MB) x billed duration (ms) summed, as GB-seconds."""
    return mb_ms / 1024 / 1000


def estimated_cost_usd(invocations: int, mb_ms: int, architecture: str = "x86_64") -> float:
    """First-tier price, no free tier: what these invocations would cost on AWS."""
    return invocations * PRICE_PER_REQUEST_USD + gb_seconds(mb_ms) * PRICE_PER_GB_S_USD.get(architecture, PRICE_PER_GB_S_USD["x86_64"])


def summary_row(name: str, totals: dict, architecture: str = "x86_64") -> dict:
    return {
        "function": name,
        **{k: v for k, v in totals.items() if k != "duration_ns"},
        "gb_seconds": round(gb_seconds(totals["mb_ms"]), 6),
        "cost_usd": estimated_cost_usd(totals["invocations"], totals["mb_ms"], architecture),
    }


def format_summary(rows: list) -> str:
    """A fixed-width table of per-function totals for the console."""
    head = ("function", "invocations", "errors", "timeouts", "throttles", "cold_starts", "billed_ms", "gb_seconds",
            "cost_usd")
    lines = [head] + [tuple(str(r[h]) if h != "cost_usd" else f"{r[h]:.9f}" for h in head) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in lines) + "\n"
