"""The IAM policy a Lambda authorizer returns, evaluated as API Gateway evaluates it.

API Gateway asks one question of the policy: may this caller perform ``execute-api:Invoke`` on the
method ARN of the request (``arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/VERB/path``)?

* ``Statement`` is one statement object or a list of them; each has ``Effect`` (``Allow`` |
  ``Deny``), ``Action`` or ``NotAction``, ``Resource`` or ``NotResource`` (a string or a list).
* Patterns take IAM's wildcards: ``*`` any run of characters (``/`` included), ``?`` one
  character. Actions compare case-insensitively, resources case-sensitively.
* An explicit Deny wins over any Allow; nothing that allows is an implicit deny.
* ``Condition`` keys are not evaluated here. A conditional statement can therefore only restrict:
  a conditional Deny applies, a conditional Allow grants nothing.

A document API Gateway could not use (not an object, no statements, an unknown Effect, a statement
without action or resource) raises InvalidPolicy: the caller answers AWS's authorizer
configuration error (500).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

__all__ = ["ALLOW", "EXPLICIT_DENY", "IMPLICIT_DENY", "INVOKE", "InvalidPolicy", "Policy", "parse_policy",
           "wildcard_match"]

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = 0, 1, 2
INVOKE = "execute-api:Invoke"


class InvalidPolicy(ValueError):
    """The policy document cannot be evaluated; the message says why."""


class _Glob:
    """An IAM pattern split on ``*``: pieces of fixed length (``?`` stands for one character).

    Matching is linear in the value: the first piece must sit at the start, the last at the end,
    and each middle piece is taken at its leftmost place after the one before; taking it any later
    can only leave less room for the rest. (A backtracking regex of ``.*`` runs instead takes time
    exponential in the number of ``*`` on a value that almost matches: seconds for a few KB.)"""

    __slots__ = ("first", "middle", "last", "min_length", "starless", "ignore_case")

    def __init__(self, pattern: str, ignore_case: bool):
        self.ignore_case = ignore_case
        pieces = [_piece(p) for p in (pattern.lower() if ignore_case else pattern).split("*")]
        self.starless = len(pieces) == 1     # only ``?``: the value has the pattern's length
        self.first, self.last = pieces[0], pieces[-1]
        self.middle = tuple(p for p in pieces[1:-1] if p[1])
        self.min_length = pieces[0][1] if self.starless else sum(p[1] for p in pieces)

    def matches(self, value: str) -> bool:
        if self.ignore_case:
            value = value.lower()
        size = len(value)
        first, last = self.first, self.last
        if size < self.min_length or not _piece_at(first, value, 0):
            return False
        if self.starless:
            return size == self.min_length
        end = size - last[1]
        if not _piece_at(last, value, end):
            return False
        position = first[1]
        for piece in self.middle:
            position = _piece_find(piece, value, position, end)
            if position < 0:
                return False
        return True


def _piece(text: str) -> tuple:
    """(text, length, compiled form or None): the compiled form only when ``?`` is in it."""
    if "?" not in text:
        return text, len(text), None
    regex = "".join("." if ch == "?" else re.escape(ch) for ch in text)
    # no quantifier in it: a search costs at most len(text) steps per place tried
    return text, len(text), re.compile(regex, re.DOTALL)


def _piece_at(piece: tuple, value: str, start: int) -> bool:
    text, length, compiled = piece
    if compiled is None:
        return value.startswith(text, start)
    return compiled.match(value, start, start + length) is not None


def _piece_find(piece: tuple, value: str, start: int, end: int) -> int:
    """Where the piece ends at its leftmost place in value[start:end]; -1 when nowhere."""
    text, length, compiled = piece
    if compiled is None:
        found = value.find(text, start, end)
        return -1 if found < 0 else found + length
    found = compiled.search(value, start, end)
    return -1 if found is None else found.end()


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> Optional[_Glob]:
    """The matcher of a pattern with ``*`` or ``?``; None for a plain string (compared as is)."""
    if "*" not in pattern and "?" not in pattern:
        return None
    return _Glob(pattern, ignore_case)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether `value` matches the IAM pattern as a whole (``*``: any run, ``?``: one character)."""
    glob = _glob(pattern, ignore_case)
    if glob is None:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return glob.matches(value)


def _patterns(statement: dict, key: str, not_key: str, where: str) -> tuple[tuple[str, ...], bool]:
    """The statement's patterns for `key` (or its negation `not_key`), and whether negated."""
    if key in statement and not_key in statement:
        raise InvalidPolicy(f"{where} has both {key} and {not_key}")
    negated = key not in statement
    value = statement.get(not_key if negated else key)
    if isinstance(value, str):
        return (value,), negated
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value), negated
    if value is None:
        raise InvalidPolicy(f"{where} has no {key}")
    raise InvalidPolicy(f"{where}: {not_key if negated else key} must be a string or a list of strings")


class _Statement:
    __slots__ = ("deny", "actions", "not_action", "resources", "not_resource", "conditional")

    def __init__(self, statement: Any, index: int):
        where = f"Statement[{index}]"
        if not isinstance(statement, dict):
            raise InvalidPolicy(f"{where} is not an object")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise InvalidPolicy(f"{where}: Effect must be Allow or Deny, not {effect!r}")
        self.deny = effect == "Deny"
        self.actions, self.not_action = _patterns(statement, "Action", "NotAction", where)
        self.resources, self.not_resource = _patterns(statement, "Resource", "NotResource", where)
        self.conditional = statement.get("Condition") is not None

    def covers(self, resource: str, action: str) -> bool:
        """Whether the statement speaks of `action` on `resource`."""
        if any(wildcard_match(p, action, True) for p in self.actions) == self.not_action:
            return False
        return any(wildcard_match(p, resource) for p in self.resources) != self.not_resource


class Policy:
    """A parsed policy document: `evaluate(resource)` says ALLOW, EXPLICIT_DENY or IMPLICIT_DENY."""

    __slots__ = ("statements",)

    def __init__(self, statements: tuple[_Statement, ...]):
        self.statements = statements

    def evaluate(self, resource: str, action: str = INVOKE) -> int:
        allowed = False
        for statement in self.statements:
            if not statement.covers(resource, action):
                continue
            if statement.deny:
                return EXPLICIT_DENY
            if not statement.conditional:
                allowed = True
        return ALLOW if allowed else IMPLICIT_DENY


def parse_policy(document: Any) -> Policy:
    """The Policy of a `policyDocument` value as the authorizer returned it; raises InvalidPolicy."""
    if not isinstance(document, dict):
        raise InvalidPolicy("policyDocument must be an object" if document is not None else "no policyDocument")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    elif not isinstance(statements, list):
        raise InvalidPolicy("policyDocument has no Statement list" if statements is None
                            else "policyDocument.Statement must be an object or a list")
    return Policy(tuple(_Statement(s, i) for i, s in enumerate(statements)))
