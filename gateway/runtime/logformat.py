"""Handler logging exactly as AWS's Python runtime sets it up: the root logger's
Lambda text format (or JSON with LoggingConfig.LogFormat: JSON) and the
one-event error log of an unhandled exception."""
from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import datetime, timezone

_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_ERROR_LINE_END = "\r"      # keeps a traceback one CloudWatch event
_ERROR_INDENT = "\u00a0"    # indentation becomes NO-BREAK SPACE, as on AWS
_RESERVED = {"name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
             "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
             "relativeCreated", "thread", "threadName", "processName", "process", "aws_request_id",
             "tenant_id", "taskName"}
_encode_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


class CurrentInvocation:
    """The request being served, read by the log filter and the memory watchdog (one per worker)."""
    __slots__ = ("request_id", "tenant_id", "busy")

    def __init__(self):
        self.request_id = ""
        self.tenant_id = None
        self.busy = True   # Init first: running user code


class _RequestIdFilter(logging.Filter):
    def __init__(self, current: CurrentInvocation):
        super().__init__()
        self.current = current

    def filter(self, record):
        record.aws_request_id = self.current.request_id
        record.tenant_id = self.current.tenant_id
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        exc = record.exc_info
        stamp = datetime.fromtimestamp(record.created, tz=timezone.utc).strftime(_DATETIME_FORMAT + ".%f")[:-3] + "Z"
        result = {
            "timestamp": stamp,
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        result.update((k, v) for k, v in record.__dict__.items() if k not in _RESERVED and k not in result)
        return _encode_json({k: v for k, v in result.items() if v is not None}) + "\n"


def setup_logging(current: CurrentInvocation, log_format: str, log_level: str) -> None:
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = _StdoutHandler()
    if log_format == "JSON":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT, _DATETIME_FORMAT))
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(log_level.upper(), log_level.upper())
    if level in logging._nameToLevel:
        root.setLevel(level)
    handler.addFilter(_RequestIdFilter(current))
    root.addHandler(handler)


def _indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return _ERROR_INDENT * (len(line) - len(stripped)) + stripped


def log_error(error: dict, log_format: str) -> None:
    """The log event an unhandled error produces."""
    if log_format == "JSON":
        stamp = time.strftime(_DATETIME_FORMAT, time.gmtime())
        sys.stdout.write(_encode_json({"timestamp": stamp, "level": "ERROR", **error}) + "\n")
        return
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                lines.extend(_indent(line) for line in element.splitlines())
    sys.stdout.write(_ERROR_LINE_END.join(lines) + "\n")
