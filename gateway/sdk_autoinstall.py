"""Installing an SDK that Lambda's runtime includes the first time a template's functions need it.

On AWS a function imports boto3 or @aws-sdk/* without shipping them. lambdagate keeps them in its
cache (gateway/sdks.py); when the scheduler's startup survey finds one missing for the functions
of the template (`Scheduler.missing_sdks`), lambdagate installs it once (gateway/sdk_install.py):

- `start-api` and `start-lambda` start the install on a thread of its own right after the
  scheduler, and do not wait for it: the ports open as they would without it, and functions run
  meanwhile as they do without the SDK (an import of it fails as on a runtime without it). One
  line says the install began, one that it ended: workers started from then on find the SDK (a
  worker's import path and NODE_PATH are worked out at each cold start), warm workers keep what
  they had until they are retired. A failure (offline, no npm) is one line: what, why, and the
  command that retries it. Stopping lambdagate stops the installer and leaves the cache as it was.
- `invoke` waits for the install before its one invocation, with the installer's progress on
  stderr. A function written for AWS may import the SDK anywhere, at Init or deep in a handler:
  not waiting would fail that invocation where AWS would not, and an install left running would be
  cut short when invoke exits, so every invoke would start it anew. The wait is paid once per
  machine (per Python version; once for Node.js), and offline it ends with pip's or npm's own
  connection error (a few seconds), after which the function runs without the SDK.

Config.sdk_install (--no-sdk-install, LAMBDAGATE_NO_SDK_INSTALL=1) turns it off: the startup survey
then says what is missing and the command that installs it. Two lambdagate processes never install
the same SDK at once: the second waits for the first, finds the SDK and leaves it as it is.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Dict, List, Optional, Sequence, TextIO

from gateway import sdk_install
from gateway.config import Config
from gateway.sdks import MissingSdk

log = logging.getLogger("lambdagate")

_TURN_OFF = "--no-sdk-install or LAMBDAGATE_NO_SDK_INSTALL=1 keeps lambdagate from trying on its own"
AFTER_SERVING = "workers started from now on find it; warm workers keep what they had until they are retired"
AFTER_INVOKING = "the invocation finds it"
_STOP_WAIT_S = 5.0


class FirstUseProgress(sdk_install.Progress):
    """The lines of an install lambdagate starts on its own, said through its log (a failure as a
    warning). The installer's output goes to `stream`, indented, or, without one, to the debug log."""

    def __init__(self, stream: Optional[TextIO], after: str):
        super().__init__(stream)
        self.after = after      # what an installed SDK means for the functions

    def started(self, what: str, where: str, argv: List[str]) -> None:
        log.info("installing %s into %s (first use; `lambdagate setup sdk` does this ahead)", what, where)
        log.debug("installer: %s", " ".join(argv))

    def waiting(self, what: str, where: str) -> None:
        log.info("another lambdagate process is installing %s into %s: waiting for it to finish", what, where)

    def output(self, line: str) -> None:
        if self.stream is not None:
            super().output(line)
        else:
            log.debug("    %s", line)

    def finished(self, outcome: sdk_install.Outcome) -> None:
        if outcome.ok:
            log.info("%s: %s", outcome.message, self.after)
        elif self.stopped:
            log.info("%s", outcome.message)
        else:
            log.warning("%s (%s)", outcome.message, _TURN_OFF)


def install(sdk: MissingSdk, progress: sdk_install.Progress, own_python: str) -> sdk_install.Outcome:
    """Install `sdk` unless it is there by the time its lock is held."""
    if sdk.language == "python":
        return sdk_install.install_python(sdk.version, progress, interpreter=sdk.interpreter, own_python=own_python,
                                          only_if_missing=True)
    return sdk_install.install_node(progress, only_if_missing=True)


class Installs:
    """Installs running on threads of their own, one per SDK (they are independent: each has its
    directory and its lock)."""

    def __init__(self, missing: Sequence[MissingSdk], own_python: str, stream: Optional[TextIO] = None,
                 after: str = AFTER_SERVING):
        self.outcomes: Dict[MissingSdk, sdk_install.Outcome] = {}    # as each ends
        self._progress = [FirstUseProgress(stream, after) for _ in missing]
        self._threads = [threading.Thread(target=self._install, args=(sdk, progress, own_python),
                                          name=f"sdk install {sdk.what}", daemon=True)
                         for sdk, progress in zip(missing, self._progress)]
        for thread in self._threads:
            thread.start()

    def _install(self, sdk: MissingSdk, progress: sdk_install.Progress, own_python: str) -> None:
        self.outcomes[sdk] = install(sdk, progress, own_python)

    def wait(self, timeout_s: Optional[float] = None) -> bool:
        """Wait for every install to end (at most `timeout_s`); whether they all have."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout_s: float = _STOP_WAIT_S) -> None:
        """Stop what still runs (its installer is killed) and wait for the threads to leave the
        cache as it was (each removes its unfinished directory)."""
        for progress in self._progress:
            progress.stop()
        self.wait(timeout_s)


def start_installs(missing: Sequence[MissingSdk], config: Config) -> Optional[Installs]:
    """`start-api` and `start-lambda`: the installs of what the functions lack, started and not
    waited for; None when there is nothing to install or installing is turned off."""
    if not config.sdk_install or not missing:
        return None
    return Installs(missing, config.python)


async def install_before_invoking(missing: Sequence[MissingSdk], config: Config, stream: TextIO) -> None:
    """`invoke`: install what the function lacks and wait for it, the installer's output on `stream`.
    Cancelled (Ctrl-C), the installer stops with it."""
    if not config.sdk_install or not missing:
        return
    installs = Installs(missing, config.python, stream, AFTER_INVOKING)
    try:
        await asyncio.get_running_loop().run_in_executor(None, installs.wait)
    finally:
        installs.stop()
