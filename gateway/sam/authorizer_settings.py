"""Checks of an authorizer's settings that both the template loader and the API Gateway runtime
apply, so that a bad setting stops the start with the same clear error wherever it is noticed.

Kept free of anything above gateway.errors: the loader (gateway.sam) and the runtime
(gateway.apigw) both import it.
"""
from __future__ import annotations

import re

from gateway.errors import TemplateError

__all__ = ["compile_validation_expression", "invalid_setting"]


def invalid_setting(where: str, message: str) -> TemplateError:
    """The error for a setting that cannot be used; `where` names the authorizer and the setting,
    e.g. "authorizer TokenAuth, IdentityValidationExpression"."""
    return TemplateError(f"{where}: {message}")


def compile_validation_expression(text: str, where: str) -> re.Pattern:
    """The compiled identity validation expression (matched against the whole token); raises
    TemplateError naming `where` when `text` is not a regular expression."""
    if not isinstance(text, str):
        raise invalid_setting(where, f"{text!r} is not a regular expression but a {type(text).__name__}")
    try:
        return re.compile(text)
    except (re.error, OverflowError) as exc:    # OverflowError: a repetition count beyond re's limit
        raise invalid_setting(where, f"{_shown(text)} is not a regular expression: {exc}") from None
    except RecursionError:                      # nesting deep enough to exhaust the parser
        raise invalid_setting(where, f"{_shown(text)} is nested too deeply to be compiled") from None


def _shown(text: str) -> str:
    # an error message quotes the setting, not kilobytes of it
    return repr(text) if len(text) <= 80 else repr(text[:80]) + "..."
