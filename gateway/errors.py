"""lambdagate's exceptions. Each carries what a user needs to fix the cause."""
from __future__ import annotations

from typing import Optional


class LambdagateError(Exception):
    """Base class: a clear, user-facing failure (never shown with a traceback)."""


class TemplateError(LambdagateError):
    """A SAM template that cannot be used; names the file, resource and property."""

    def __init__(self, message: str, *, path: Optional[str] = None, resource: Optional[str] = None,
                 prop: Optional[str] = None):
        self.path, self.resource, self.prop = path, resource, prop
        where = []
        if path:
            where.append(str(path))
        if resource:
            where.append(f"resource {resource}")
        if prop:
            where.append(f"property {prop}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")
        self.message = message


class FunctionNotFound(LambdagateError):
    def __init__(self, name: str, arn: Optional[str] = None):
        self.name = name
        self.arn = arn
        super().__init__(f"Function not found: {arn or name}")


class Throttled(LambdagateError):
    """No concurrency left; `reason` is one of the TooManyRequestsException reasons."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__("Rate Exceeded.")


class PayloadTooLarge(LambdagateError):
    def __init__(self, size: int, limit: int, message: Optional[str] = None):
        self.size, self.limit = size, limit
        super().__init__(message or f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


class RuntimeUnavailable(LambdagateError):
    """A function's runtime cannot be started on this machine."""
