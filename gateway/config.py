"""The one Config: every setting lambdagate has, each with its default written once.

The CLI is a thin mapping of flags onto it (its defaults are read from here); the scheduler, the
API Gateway port, the Lambda API and the asynchronous event store each take the parts they need.
This module imports nothing of lambdagate, so that every layer may depend on it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Optional


def region_from_environment() -> str:
    """The region the AWS SDKs would pick: $AWS_REGION, then $AWS_DEFAULT_REGION, then us-east-1."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def cache_dir() -> str:
    """Where lambdagate keeps what it makes once and reuses (compiled Java classes, inline code):
    $XDG_CACHE_HOME/lambdagate, else ~/.cache/lambdagate."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lambdagate")


@dataclass
class Config:
    # ---- the template (sam local's flags)
    template: Optional[str] = None          # None: found as sam local does (sam.template_io.discover_template)
    env_vars: Optional[str] = None          # SAM's --env-vars JSON file
    parameter_overrides: str = ""           # 'Key=Value ...' or 'ParameterKey=K,ParameterValue=V ...'
    region: str = field(default_factory=region_from_environment)

    # ---- the HTTP servers
    host: str = "127.0.0.1"
    port: int = 3000                        # API Gateway (start-api)
    lambda_port: int = 3001                 # the Lambda API (start-lambda; beside start-api, 0 turns it off)
    http_keep_alive_s: float = 5.0          # idle connections (also ones that never sent a request) close after this
    http_header_timeout_s: float = 10.0     # a request head must be complete this long after it began
    http_max_head_bytes: int = 10240        # request line + headers, API Gateway's limit; above: 431
    lambda_api_max_head_bytes: int = 65536  # the Lambda API's: a 60 KB name or qualifier gets AWS's 400, not 431
    http_max_connections: int = 4096        # per port; lowered at startup to fit the open-files limit
    access_log: bool = False                # one line per HTTP request on the console (uvicorn's format)
    shutdown_grace_s: float = 10.0          # in-flight requests and invocations may finish within this
    auth: str = "none"                      # the Lambda API's callers: "none" (as sam local) or "sigv4"
    credentials_file: Optional[str] = None  # for sigv4 and AWS_IAM routes: shared-credentials file; else $AWS_ACCESS_KEY_ID...
    jwks_files: dict = field(default_factory=dict)   # JWT issuer -> local JWKS file (--jwks), instead of fetching
    api_keys_file: Optional[str] = None     # --api-keys: JSON list of API keys beside the template's
    reload: bool = True                     # retire warm workers when a function's code changes
    warm_containers: str = "LAZY"           # EAGER starts one worker per function at startup
    debug: bool = False

    # ---- the scheduler
    account_concurrency: int = 1000         # AWS's default regional limit
    keepalive_s: float = 600.0              # idle workers are stopped after this
    init_timeout_s: float = 10.0            # Lambda's Init phase limit
    enforce_memory: bool = True             # kill workers that use more than their MemorySize
    memory_poll_ms: int = 10                # how often non-Python workers' memory is sampled
    python: str = sys.executable            # lambdagate's own interpreter: Python functions whose version is not installed
    python_interpreters: dict = field(default_factory=dict)  # "3.12" -> path (--python), before PATH, pyenv and uv
    console_logs: bool = True               # START/END/REPORT and function output on stderr
    isolation: str = "auto"                 # auto (the strongest available) | namespaces | process | none
    sdk_install: bool = True                # install a missing AWS SDK on first need (gateway/sdk_autoinstall.py)

    # ---- state: per-function log files and the asynchronous event store
    state_dir: str = ".lambdagate"
    log_file_max_mb: int = 100              # a function's log file rotates when it would grow past this
    log_files_kept: int = 5                 # <name>.log and <name>.log.1 .. .4

    # ---- asynchronous invocations (InvocationType=Event)
    async_retry_delays_s: tuple = (60.0, 120.0)      # before retry 1, 2 (AWS: ~1 min, then ~2 min)
    async_throttle_backoff_s: tuple = (1.0, 300.0)   # a throttled event's first delay, and the cap
    async_concurrency: int = 8                        # attempts in flight per function
    async_durability: str = "full"                    # "full": fsync before the 202; "normal": WAL only
    discard_corrupt_store: bool = False               # a corrupt store is moved aside; then start empty

    @property
    def log_dir(self) -> str:
        return os.path.join(self.state_dir, "logs")

    @property
    def event_store_path(self) -> str:
        return os.path.join(self.state_dir, "events.sqlite3")
