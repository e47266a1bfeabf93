"""gateway.apigw.iam_policy: a Lambda authorizer's policy document evaluated against method ARNs as
API Gateway evaluates it (Allow/Deny, explicit deny first, `*` and `?`, NotAction/NotResource)."""
from __future__ import annotations

import random
import re
import time

import pytest

from gateway.apigw.iam_policy import (ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, InvalidPolicy, parse_policy,
                                      wildcard_match)

API = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234"
GET_PET = API + "/Prod/GET/pets/7"
POST_PET = API + "/Prod/POST/pets/7"


def statement(effect="Allow", resource=GET_PET, action="execute-api:Invoke", **more):
    out = {"Effect": effect, "Action": action, "Resource": resource}
    out.update(more)
    return out


def policy(*statements):
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)})


def test_an_allow_of_the_exact_arn_allows_that_arn_only():
    p = policy(statement())
    assert p.evaluate(GET_PET) == ALLOW
    assert p.evaluate(POST_PET) == IMPLICIT_DENY
    assert p.evaluate(API + "/Prod/GET/pets/70") == IMPLICIT_DENY      # a whole match, not a prefix
    assert p.evaluate(API + "/Prod/GET/pets") == IMPLICIT_DENY


def test_a_deny_of_the_arn_is_an_explicit_deny():
    assert policy(statement("Deny")).evaluate(GET_PET) == EXPLICIT_DENY
    assert policy(statement("Deny")).evaluate(POST_PET) == IMPLICIT_DENY


def test_an_explicit_deny_wins_over_an_allow_whatever_the_order():
    allow_all, deny_get = statement(resource="*"), statement("Deny", API + "/*/GET/*")
    for statements in ((allow_all, deny_get), (deny_get, allow_all)):
        p = policy(*statements)
        assert p.evaluate(GET_PET) == EXPLICIT_DENY
        assert p.evaluate(POST_PET) == ALLOW


@pytest.mark.parametrize("pattern, value, expected", [
    (API + "/*", GET_PET, True),                           # * crosses slashes
    (API + "/*/GET/*", GET_PET, True),
    (API + "/*/GET/*", POST_PET, False),
    (API + "/Prod/?ET/pets/7", GET_PET, True),             # ? is one character
    (API + "/Prod/?ET/pets/7", API + "/Prod/GGET/pets/7", False),
    (API + "/Prod/GET/pets/?", GET_PET, True),
    (API + "/Prod/GET/pets/?", API + "/Prod/GET/pets/77", False),
    ("arn:aws:execute-api:*:*:abcdef1234/*", GET_PET, True),
    (API + "/prod/GET/pets/7", GET_PET, False),           # resources compare case-sensitively
    (API + "/Prod/GET/pets/7.", GET_PET, False),          # regex characters are literal
    (API + "/Prod/GET/pets/[7]", API + "/Prod/GET/pets/[7]", True),
])
def test_resource_wildcards(pattern, value, expected):
    assert wildcard_match(pattern, value) is expected
    assert (policy(statement(resource=pattern)).evaluate(value) == ALLOW) is expected


@pytest.mark.parametrize("action, allowed", [
    ("execute-api:Invoke", True), ("EXECUTE-API:invoke", True), ("execute-api:*", True), ("*", True),
    ("execute-api:In*", True), (["s3:GetObject", "execute-api:Invoke"], True),
    ("execute-api:ManageConnections", False), ("s3:*", False), (["s3:GetObject"], False),
])
def test_actions_compare_case_insensitively_with_wildcards(action, allowed):
    assert policy(statement(action=action)).evaluate(GET_PET) == (ALLOW if allowed else IMPLICIT_DENY)


def test_a_statement_object_and_resource_lists_are_accepted():
    p = parse_policy({"Statement": {"Effect": "Allow", "Action": ["execute-api:Invoke"],
                                    "Resource": [POST_PET, GET_PET]}})
    assert p.evaluate(GET_PET) == ALLOW and p.evaluate(POST_PET) == ALLOW
    assert p.evaluate(API + "/Prod/DELETE/pets/7") == IMPLICIT_DENY


def test_not_resource_and_not_action_invert_their_match():
    p = policy({"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": API + "/*/DELETE/*"})
    assert p.evaluate(GET_PET) == ALLOW
    assert p.evaluate(API + "/Prod/DELETE/pets/7") == IMPLICIT_DENY
    deny_other_actions = policy(statement(resource="*"),
                                {"Effect": "Deny", "NotAction": "execute-api:Invoke", "Resource": "*"})
    assert deny_other_actions.evaluate(GET_PET) == ALLOW


def test_no_statement_allows_nothing():
    assert parse_policy({"Version": "2012-10-17", "Statement": []}).evaluate(GET_PET) == IMPLICIT_DENY


def test_conditions_are_not_evaluated_so_they_only_restrict():
    condition = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert policy(statement(Condition=condition)).evaluate(GET_PET) == IMPLICIT_DENY
    assert policy(statement(resource="*"), statement("Deny", Condition=condition)).evaluate(GET_PET) == EXPLICIT_DENY


@pytest.mark.parametrize("document, reason", [
    (None, "no policyDocument"),
    ("{\"Statement\": []}", "must be an object"),
    ({"Version": "2012-10-17"}, "no Statement"),
    ({"Statement": "Allow"}, "object or a list"),
    ({"Statement": ["Allow"]}, "not an object"),
    ({"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}, "Effect must be Allow or Deny"),
    ({"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}, "Effect must be Allow or Deny"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "no Action"),
    ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "no Resource"),
    ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": 7}]}, "Resource must be a string"),
    ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "Action must be a string"),
    ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}]}, "both"),
])
def test_documents_api_gateway_cannot_use_are_refused_with_the_reason(document, reason):
    with pytest.raises(InvalidPolicy, match=reason):
        parse_policy(document)


# --------------------------------------------------------------------------- matching cost

def _reference_match(pattern: str, value: str, ignore_case: bool) -> bool:
    """IAM's wildcards spelled as a backtracking regex: right, and fast enough on short strings only."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def test_the_matcher_agrees_with_the_wildcard_semantics_on_many_short_strings():
    rnd = random.Random(20240601)
    for _ in range(6_000):
        pattern = "".join(rnd.choice("ab*?/") for _ in range(rnd.randint(0, 8)))
        value = "".join(rnd.choice("abAB/") for _ in range(rnd.randint(0, 10)))
        ignore_case = rnd.random() < 0.3
        assert wildcard_match(pattern, value, ignore_case) is _reference_match(pattern, value, ignore_case), \
            (pattern, value, ignore_case)


FIVE_STARS = API + "/*/*/*/*/*/owner"


def _near_miss(slashes: int) -> str:
    """A method ARN that almost matches FIVE_STARS: many places for each * to try, no "owner" at the end.
    (A backtracking regex took 1.5 s for 100 slashes here, 47 s for 200.)"""
    return API + "/Prod/GET/pets/" + "/" * slashes + "x"


def _seconds_per_match(pattern: str, value: str, rounds: int = 5, calls: int = 20) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            wildcard_match(pattern, value)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def test_matching_a_10_kb_arn_against_five_stars_is_fast_and_grows_no_faster_than_the_arn():
    small, large = _near_miss(100), _near_miss(10_000)
    assert len(large) > 10_000
    assert wildcard_match(FIVE_STARS, large) is False
    assert wildcard_match(FIVE_STARS, large[:-1] + "owner") is True
    small_s, large_s = _seconds_per_match(FIVE_STARS, small), _seconds_per_match(FIVE_STARS, large)
    assert large_s < 0.25          # well under 50 ms on any machine that runs the suite
    # the value is 100x longer: linear matching costs at most ~100x (less: fixed costs dominate a
    # short value); quadratic would cost 10,000x
    assert large_s < 1000 * small_s, (small_s, large_s)


def test_a_policy_of_many_stars_evaluates_a_long_arn_quickly():
    p = policy(statement(resource="*/*/GET/pets/*/owner"), statement("Deny", "*/?ecret/*/*/*/*"))
    long_arn = API + "/Prod/GET/pets/" + "a/" * 3_500 + "x"          # 7 KB
    started = time.perf_counter()
    assert p.evaluate(long_arn) == IMPLICIT_DENY
    assert p.evaluate(long_arn[:-1] + "owner") == ALLOW
    assert p.evaluate(API + "/Prod/GET/pets/secret/" + "a/" * 3_500 + "owner") == EXPLICIT_DENY
    assert time.perf_counter() - started < 0.25
