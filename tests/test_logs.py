"""LogSinks: per-function files rotated by size, I/O on a writer thread (a slow disk or terminal
never blocks the caller), and a bounded backlog that drops with a note instead of growing."""
from __future__ import annotations

import io
import threading
import time

from gateway.logs import LogSinks


class BlockingConsole:
    """A console whose writes wait until `release` is set: a terminal nobody reads."""

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.text: list = []

    def write(self, text: str) -> None:
        self.entered.set()
        self.release.wait(30)
        self.text.append(text)

    def flush(self) -> None:
        pass


def lines(n: int, width: int = 100) -> list:
    return [f"{i:06d} " + "x" * (width - 8) + "\n" for i in range(n)]


def test_files_rotate_by_size_and_keep_the_newest(tmp_path):
    sinks = LogSinks(str(tmp_path), console=None, max_file_bytes=1000, files_kept=3)
    written = lines(50)
    for line in written:
        sinks.write("fn", line)
        sinks.flush()
    sinks.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fn.log", "fn.log.1", "fn.log.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    kept = (tmp_path / "fn.log.2").read_text() + (tmp_path / "fn.log.1").read_text() + (tmp_path / "fn.log").read_text()
    assert kept == "".join(written[-len(kept.splitlines()):])     # the newest lines, in order, none missing
    assert kept.endswith(written[-1]) and len(kept.splitlines()) >= 20


def test_one_file_kept_starts_over(tmp_path):
    sinks = LogSinks(str(tmp_path), console=None, max_file_bytes=500, files_kept=1)
    for line in lines(12):
        sinks.write("fn", line)
        sinks.flush()
    sinks.close()
    assert [p.name for p in tmp_path.iterdir()] == ["fn.log"]
    assert (tmp_path / "fn.log").stat().st_size <= 500


def test_a_blocked_console_never_blocks_the_writer(tmp_path):
    console = BlockingConsole()
    sinks = LogSinks(str(tmp_path), console=console)
    sinks.write("fn", "first\n")
    sinks.flush()
    assert console.entered.wait(5)            # the writer thread is stuck in the console
    started = time.monotonic()
    for i in range(100):
        sinks.write("fn", f"line {i}\n")
        sinks.flush()
    assert time.monotonic() - started < 1.0   # the caller went on: never waits for the console
    assert not console.text
    console.release.set()
    assert sinks.drain(10)
    sinks.close()
    assert "".join(console.text) == "first\n" + "".join(f"line {i}\n" for i in range(100))
    assert (tmp_path / "fn.log").read_text() == "first\n" + "".join(f"line {i}\n" for i in range(100))


def test_a_writer_far_behind_drops_with_a_note_instead_of_growing(tmp_path):
    console = BlockingConsole()
    sinks = LogSinks(str(tmp_path), console=console, max_pending_bytes=2000)
    sinks.write("fn", "a" * 10 + "\n")
    sinks.flush()
    assert console.entered.wait(5)
    for _ in range(10):                        # 5,000 bytes while the writer is stuck
        sinks.write("fn", "b" * 499 + "\n")
        sinks.flush()
    assert sinks._queued_bytes <= 2000 + 11
    console.release.set()
    sinks.close()
    text = (tmp_path / "fn.log").read_text()
    kept = text.count("b" * 499 + "\n")
    assert 1 <= kept < 10
    assert f"[lambdagate: {(10 - kept) * 500} bytes of this function's log were dropped" in text


def test_close_writes_everything_and_later_writes_go_nowhere(tmp_path):
    sinks = LogSinks(str(tmp_path), console=None)
    sinks.write("a", "one\n")
    sinks.write("b", "two\n")
    sinks.close()
    sinks.write("a", "late\n")
    assert (tmp_path / "a.log").read_text() == "one\n"
    assert (tmp_path / "b.log").read_text() == "two\n"
    assert not any(t.name == "lambdagate-logs" and t.is_alive() for t in threading.enumerate()
                   if t is sinks._thread)


def test_a_failing_disk_does_not_end_the_writer(tmp_path):
    sinks = LogSinks(str(tmp_path / "logs"), console=None)
    sinks.write("fn", "before\n")
    assert sinks.drain(5)
    sinks._files["fn"][0].close()              # the next write to that file fails
    sinks.write("fn", "lost\n")
    assert sinks.drain(5)
    sinks._files.pop("fn")
    sinks.write("fn", "after\n")
    assert sinks.drain(5)
    sinks.close()
    assert sinks._thread is not None and not sinks._thread.is_alive()
    assert (tmp_path / "logs" / "fn.log").read_text() == "before\nafter\n"


def test_the_console_breaks_awss_carriage_returns_and_the_file_keeps_them(tmp_path):
    console = io.StringIO()
    sinks = LogSinks(str(tmp_path), console=console)
    event = "[ERROR] ValueError: boom\rTraceback (most recent call last):\r  File \"/var/task/app.py\", line 2\r\n"
    sinks.write("fn", event)
    sinks.close()
    assert (tmp_path / "fn.log").read_bytes().decode() == event         # as CloudWatch stores it
    assert console.getvalue() == ("[ERROR] ValueError: boom\nTraceback (most recent call last):\n"
                                  "  File \"/var/task/app.py\", line 2\n")
