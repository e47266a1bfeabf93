"""One Config object with typed defaults; the CLI is a thin mapping onto it."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Optional

from gateway.aws.sam import Template, load_env_vars, load_template, parse_parameter_overrides
from gateway.scheduler import SchedulerConfig


@dataclass
class Config:
    template: str = "template.yaml"
    host: str = "127.0.0.1"
    port: int = 3000                        # API Gateway (start-api)
    lambda_port: Optional[int] = None       # Lambda API beside start-api; start-lambda uses `port`
    env_vars: Optional[str] = None          # SAM's --env-vars JSON file
    parameter_overrides: str = ""
    region: str = field(default_factory=lambda: os.environ.get("AWS_REGION")
                        or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    warm_containers: str = "LAZY"           # EAGER starts one worker per function at startup
    reload: bool = True                     # retire warm workers when code changes
    debug: bool = False
    state_dir: str = ".lambdagate"          # logs/ and the async event store live here
    keepalive_s: float = 600.0
    account_concurrency: int = 1000
    shutdown_grace_s: float = 10.0
    console_logs: bool = True               # START/END/REPORT and function output on stderr
    enforce_memory: bool = True

    def load_template(self) -> Template:
        env_vars = load_env_vars(self.env_vars) if self.env_vars else None
        return load_template(self.template, parameter_overrides=parse_parameter_overrides(self.parameter_overrides),
                             env_vars=env_vars, region=self.region, shell_env=os.environ)

    @property
    def log_dir(self) -> str:
        return os.path.join(self.state_dir, "logs")

    def scheduler_config(self) -> SchedulerConfig:
        return SchedulerConfig(account_concurrency=self.account_concurrency, keepalive_s=self.keepalive_s,
                               log_dir=self.log_dir, console=sys.stderr if self.console_logs else None,
                               enforce_memory=self.enforce_memory)
