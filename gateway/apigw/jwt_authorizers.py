"""JWT authorizers (HTTP API JwtConfiguration; REST JWT) and Amazon Cognito user-pool authorizers
(REST COGNITO_USER_POOLS), verified as API Gateway verifies them (aws-contract.md §1.9).

The token comes from the authorizer's identity source, a "Bearer " prefix removed. Only RSA
signatures count ("Currently, only RSA-based algorithms are supported"): alg none, HS* and EC are
refused before any key is looked at, and the token's `kid` must name a key the configured issuer
publishes. The issuer's keys come from a local JWKS file (--jwks ISSUER=PATH) or over HTTP: a JWT
issuer's `<issuer>/.well-known/openid-configuration` names its jwks_uri, a user pool publishes
`<issuer>/.well-known/jwks.json`. Keys are cached by kid; an unknown kid refetches them, at most
once per `refetch_interval_s`, so that forged kids cannot make lambdagate hammer the issuer.
Claims are checked as API Gateway's Go JWT library does (no clock skew; exp, iat, nbf only when
present), then `iss`, `aud` (`client_id` only when there is no `aud`) and the route's scopes.

What the integration sees differs by API: an HTTP API renders every claim as a string, arrays as
"[a b]" and objects as "map[k:v]" (Go's formatting; measured captures in floci-io/floci#2011 and
aws/aws-lambda-go#570), under `authorizer.jwt` (payload 2.0) or flat (payload 1.0,
awsdocs/amazon-api-gateway-developer-guide#113); a REST JWT authorizer passes claims with their
JSON types; a REST user-pool authorizer renders them as its Java service does: strings, exp/iat/nbf
as dates ("Sun Dec 17 07:28:12 UTC 2017"), lists comma-joined.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import Any, Mapping, Optional

import jwt

from gateway.apigw import responses
from gateway.apigw.access import AccessRequest, AuthGrant, Denied
from gateway.apigw.authorizer_identity import IdentitySource
from gateway.errors import LambdagateError
from gateway.sam.authorizer_settings import compile_validation_expression, invalid_setting
from gateway.types import AuthorizerSpec

log = logging.getLogger("lambdagate")

RSA_ALGORITHMS = frozenset(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"))
FETCH_TIMEOUT_S = 5.0
REFETCH_INTERVAL_S = 30.0       # an unknown kid (or a failed fetch) asks the issuer again at most this often
KEYS_MAX_AGE_S = 3600.0         # keys this old are fetched again on use; kept when that fails
MAX_DOCUMENT_BYTES = 1 << 20    # an openid-configuration or JWKS larger than this is refused
VERIFIED_TOKEN_TTL_S = 300.0    # a token whose signature passed is verified again after this (keys rotate)
MAX_VERIFIED_TOKENS = 4096      # remembered verified tokens per authorizer, oldest dropped first

_DEFAULT_SOURCE = {"JWT": "$request.header.Authorization",
                   "COGNITO_USER_POOLS": "method.request.header.Authorization"}

# The only error_description AWS documents (http-api-troubleshooting-jwt); the others follow the
# wording of the JWT library AWS's "tokenstring should not contain 'bearer '" came from.
INVALID_AUDIENCE = "the token does not have a valid audience"


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched (and none are cached); the message says why."""


# --------------------------------------------------------------------------- the issuers' keys

class _IssuerKeys:
    """What is known of one remote issuer's keys."""

    __slots__ = ("keys", "fetched_s", "attempted_s", "jwks_uri", "error", "lock")

    def __init__(self):
        self.keys: dict = {}                    # kid -> PyJWK
        self.fetched_s = float("-inf")          # monotonic time of the last successful fetch
        self.attempted_s: Optional[float] = None  # ... of the last attempt, successful or not
        self.jwks_uri: Optional[str] = None     # from the openid-configuration, once read
        self.error: Optional[str] = None        # why the last attempt failed; None after a success
        self.lock = asyncio.Lock()


class JwksStore:
    """The signing keys of every issuer the authorizers of one port trust, shared by them all."""

    def __init__(self, local_files: Mapping[str, str], *, fetch_timeout_s: float = FETCH_TIMEOUT_S,
                 refetch_interval_s: float = REFETCH_INTERVAL_S, keys_max_age_s: float = KEYS_MAX_AGE_S):
        """`local_files`: issuer -> JWKS file (--jwks), read now so that a bad file stops the start."""
        self.fetch_timeout_s = fetch_timeout_s
        self.refetch_interval_s = refetch_interval_s
        self.keys_max_age_s = keys_max_age_s
        self._local: dict[str, dict] = {}
        for issuer, path in local_files.items():
            self._local[_issuer_id(issuer)] = _read_jwks_file(issuer, path)
        self._remote: dict[str, _IssuerKeys] = {}

    def has_local(self, issuer: str) -> bool:
        return _issuer_id(issuer) in self._local

    async def key(self, issuer: str, kid: str, jwks_url: Optional[str] = None):
        """The key `kid` of `issuer` (a PyJWK), None when the issuer publishes no such key; raises
        KeysUnavailable. `jwks_url`: where the keys are when not named by the issuer's
        openid-configuration (Cognito user pools)."""
        local = self._local.get(_issuer_id(issuer))
        if local is not None:
            return local.get(kid)
        state = self._remote.get(issuer)
        if state is None:
            state = self._remote[issuer] = _IssuerKeys()
        now_s = time.monotonic()
        key = state.keys.get(kid)
        if key is not None and now_s - state.fetched_s < self.keys_max_age_s:
            return key
        attempted_s = state.attempted_s
        if attempted_s is None or now_s - attempted_s >= self.refetch_interval_s:
            async with state.lock:
                if state.attempted_s == attempted_s:   # nobody fetched while this request waited
                    await self._fetch(issuer, state, jwks_url)
            key = state.keys.get(kid)
        if key is None and not state.keys and state.error is not None:
            raise KeysUnavailable(state.error)
        return key

    async def _fetch(self, issuer: str, state: _IssuerKeys, jwks_url: Optional[str]) -> None:
        state.attempted_s = time.monotonic()
        try:
            url = jwks_url or state.jwks_uri
            if url is None:
                discovery = await asyncio.to_thread(_get_json, _discovery_url(issuer), self.fetch_timeout_s)
                url = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
                if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                    raise ValueError(f"{_discovery_url(issuer)} names no http(s) jwks_uri")
                state.jwks_uri = url
            keys = _parse_jwks(await asyncio.to_thread(_get_json, url, self.fetch_timeout_s), url)
        except (OSError, ValueError, HTTPException) as exc:
            reason = _reason(exc)
            if state.error is None:   # one line per issuer and outage, not one per request
                outcome = ("the keys fetched before stay in use" if state.keys else
                           "its tokens get 401 until they can be fetched")
                log.warning("cannot fetch the signing keys of JWT issuer %s (%s): %s; --jwks %s=PATH verifies "
                            "its tokens against a local JWKS file, offline", issuer, reason, outcome, issuer)
            state.error = reason
            return
        if state.error is not None:
            log.info("fetched the signing keys of JWT issuer %s again", issuer)
        state.keys, state.fetched_s, state.error = keys, time.monotonic(), None


def _issuer_id(issuer: str) -> str:
    # --jwks https://issuer/ and an iss of https://issuer name the same local file
    return issuer.rstrip("/")


def _discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"{exc.url} answered HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _opener() -> urllib.request.OpenerDirector:
    # http(s) only, redirects included: no file:// or ftp:// however a document points
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


_OPENER = _opener()


def _get_json(url: str, timeout_s: float) -> Any:
    """GET `url` and parse its JSON (in a worker thread: blocking)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{url} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "lambdagate"})
    with _OPENER.open(request, timeout=timeout_s) as answer:
        data = answer.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError:
        raise ValueError(f"{url} did not answer JSON") from None


def _parse_jwks(document: Any, where: str) -> dict:
    """kid -> PyJWK of the RSA signing keys of a JWKS (or of a single JWK); ValueError when none."""
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        entries = document["keys"]
    elif isinstance(document, dict) and "kty" in document:
        entries = [document]
    else:
        raise ValueError(f"{where} is not a JWKS: it has no \"keys\" list")
    keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[str(entry.get("kid", ""))] = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue   # a key of an algorithm lambdagate cannot use: as if not published
    if not keys:
        raise ValueError(f"{where} holds no RSA signing key")
    return keys


def _read_jwks_file(issuer: str, path: str) -> dict:
    try:
        with open(path, "rb") as f:
            document = json.loads(f.read())
    except OSError as exc:
        raise LambdagateError(f"--jwks {issuer}={path}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise LambdagateError(f"--jwks {issuer}={path}: not JSON: {exc}") from None
    try:
        return _parse_jwks(document, path)
    except ValueError as exc:
        raise LambdagateError(f"--jwks {issuer}={path}: {exc}") from None


# --------------------------------------------------------------------------- the authorizer

_JWS = jwt.PyJWS()


class _Refused(Exception):
    """The token is refused: `description` for www-authenticate; `insufficient_scope` when only the
    route's scopes are missing (HTTP API: 403, not 401)."""

    def __init__(self, description: Optional[str], insufficient_scope: bool = False):
        super().__init__(description)
        self.description, self.insufficient_scope = description, insufficient_scope


class JwtAuthorizer:
    """One JWT or COGNITO_USER_POOLS authorizer of an API (one object for all the routes it guards)."""

    def __init__(self, spec: AuthorizerSpec, jwks: JwksStore):
        self.spec = spec
        self.jwks = jwks
        self.cognito = spec.type == "COGNITO_USER_POOLS"
        self.issuers = frozenset(spec.issuers)
        self.audience = frozenset(spec.audience)
        expression = spec.identity_sources[0] if spec.identity_sources else _DEFAULT_SOURCE.get(spec.type, "")
        where = f"authorizer {spec.name}, IdentitySource"
        # a repeated header reaches a REST authorizer as its last value, an HTTP API's comma-joined
        self.source = IdentitySource(expression, join_repeated=not self.cognito, where=where)
        if self.source.kind not in ("header", "query"):
            raise invalid_setting(where, f"identity source {expression!r} is not a header or a query string "
                                         "parameter ($request.header.NAME, method.request.header.NAME)")
        self._verified_tokens: dict = {}     # token text -> _Verified, oldest first
        self.validation: Optional[re.Pattern] = None
        if spec.validation_expression:      # Cognito's token validation: a mismatch is 401 before any check
            self.validation = compile_validation_expression(
                spec.validation_expression, f"authorizer {spec.name}, IdentityValidationExpression")

    async def authorize(self, request: AccessRequest) -> AuthGrant:
        rest = request.route.api.kind == "REST"
        token = self._token(request)
        if not token:
            raise Denied(self._unauthorized(request, None, rest))
        try:
            entry = await self._verified(token)
            scopes = self._route_checks(entry, request.route.authorization_scopes)
        except _Refused as refused:
            if refused.insufficient_scope and not rest:
                scope = " ".join(request.route.authorization_scopes).replace('"', "'")
                status, headers, body = responses.http_error(403, "Forbidden", request_id=request.request_id)
                headers.append((b"www-authenticate", f'Bearer scope="{scope}" error="insufficient_scope" '
                                f'error_description="{refused.description}"'.encode("latin-1", "replace")))
                raise Denied((status, headers, body)) from None
            raise Denied(self._unauthorized(request, refused.description, rest)) from None
        # (the rendered claims are shared by every request with this token: nothing mutates them)
        if rest:
            return AuthGrant(authorizer={"claims": entry.java_claims if self.cognito else entry.claims})
        if request.v1:   # HTTP API payload 1.0: no "jwt" level
            return AuthGrant(authorizer={"claims": entry.go_claims, "scopes": scopes})
        return AuthGrant(authorizer={"jwt": {"claims": entry.go_claims, "scopes": scopes}})

    def _token(self, request: AccessRequest) -> Optional[str]:
        value = self.source.value(request)
        if value is None or (self.validation is not None and self.validation.fullmatch(value) is None):
            return None
        token = value.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        return token

    def _unauthorized(self, request: AccessRequest, description: Optional[str], rest: bool):
        if rest:
            return responses.rest_error(401, "Unauthorized", "UnauthorizedException", request_id=request.request_id)
        status, headers, body = responses.http_error(401, "Unauthorized", request_id=request.request_id)
        if description is not None:
            headers.append((b"www-authenticate", f'Bearer scope="" error="invalid_token" '
                            f'error_description="{description}"'.encode("latin-1", "replace")))
        return status, headers, body

    async def _verified(self, token: str) -> "_Verified":
        """The token once its signature, issuer and audience passed; raises _Refused. A token that
        passed is remembered (by its exact text, for a while: keys rotate), so that a client sending
        the same token again costs a dict probe, not an RSA verification; its times and the route's
        requirements are checked on every request all the same."""
        now_s = time.monotonic()
        entry = self._verified_tokens.get(token)
        if entry is not None and now_s - entry.verified_at_s < VERIFIED_TOKEN_TTL_S:
            _check_times(entry.claims)
            return entry
        entry = await self._verify_signature(token)
        entry.verified_at_s = now_s
        if len(self._verified_tokens) >= MAX_VERIFIED_TOKENS:
            del self._verified_tokens[next(iter(self._verified_tokens))]      # the oldest
        self._verified_tokens[token] = entry
        return entry

    def _route_checks(self, entry: "_Verified", route_scopes: tuple) -> Optional[list]:
        """The token's scopes when the route asks for some (None otherwise); raises _Refused."""
        if self.cognito:
            # no scopes on the method: an ID token; scopes: an access token carrying one of them
            if entry.claims.get("token_use") != ("access" if route_scopes else "id"):
                raise _Refused("the token is not of the use the method requires")
        if route_scopes:
            if not any(s in route_scopes for s in entry.scopes):
                raise _Refused("the token does not have a required scope", insufficient_scope=True)
            return entry.scopes
        return None

    async def _verify_signature(self, token: str) -> "_Verified":
        if token.count(".") != 2:
            raise _Refused("token contains an invalid number of segments")
        try:
            unverified = _JWS.decode_complete(token, options={"verify_signature": False})
            header = unverified["header"]
            claims = _json_object(unverified["payload"])
        except (jwt.PyJWTError, ValueError, RecursionError):
            raise _Refused("the token is not a valid JWT") from None
        alg = header.get("alg")
        if alg not in RSA_ALGORITHMS:
            raise _Refused(f"signing method {_printable(alg)} is invalid")
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not (issuer in self.issuers or
                                               (not self.issuers and self.jwks.has_local(issuer))):
            raise _Refused("the token does not have a valid issuer")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _Refused("the token has no kid")
        try:
            # a user pool publishes its keys at a fixed place; other issuers name it in their discovery document
            pool_jwks = (issuer.rstrip("/") + "/.well-known/jwks.json") if self.cognito else None
            key = await self.jwks.key(issuer, kid, pool_jwks)
        except KeysUnavailable:
            raise _Refused("the signing keys of the issuer cannot be fetched") from None
        if key is None:
            raise _Refused("the token's kid is not among the issuer's keys")
        try:
            _JWS.decode_complete(token, key.key, algorithms=[alg])
        except jwt.InvalidSignatureError:
            raise _Refused("crypto/rsa: verification error") from None
        except jwt.PyJWTError:
            raise _Refused("the token's signature cannot be checked with the issuer's key") from None
        _check_times(claims)
        if self.audience:
            audience = claims["aud"] if "aud" in claims else claims.get("client_id")
            audiences = audience if isinstance(audience, list) else [audience]
            if not any(isinstance(a, str) and a in self.audience for a in audiences):
                raise _Refused(INVALID_AUDIENCE)
        return _Verified(claims, _token_scopes(claims), _go_claims(claims),
                         _java_claims(claims) if self.cognito else None)


class _Verified:
    """A token whose signature, issuer and audience passed, with its claims as each API kind shows them."""

    __slots__ = ("claims", "scopes", "go_claims", "java_claims", "verified_at_s")

    def __init__(self, claims: dict, scopes: list, go_claims: dict, java_claims: Optional[dict]):
        self.claims, self.scopes, self.go_claims, self.java_claims = claims, scopes, go_claims, java_claims
        self.verified_at_s = 0.0


def _json_object(payload: bytes) -> dict:
    claims = json.loads(payload)
    if not isinstance(claims, dict):
        raise ValueError("the payload is not a JSON object")
    return claims


def _printable(value: Any) -> str:
    # goes into a header: nothing from the token but short plain text
    text = str(value)[:32]
    return "".join(c if c.isalnum() or c in "-_." else "?" for c in text)


def _check_times(claims: dict) -> None:
    now_s = int(time.time())
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Refused(f"the token's {name} is not a number")
        if name == "exp" and now_s > value:
            raise _Refused(f"token is expired by {_go_duration(now_s - value)}")
        if name == "iat" and now_s < value:
            raise _Refused("Token used before issued")
        if name == "nbf" and now_s < value:
            raise _Refused("token is not valid yet")


def _go_duration(seconds: float) -> str:
    """A whole number of seconds as Go's time.Duration prints it: 1h2m3s, 4m0s, 5s."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _token_scopes(claims: dict) -> list:
    """The scopes of `scope` (space-separated) and `scp` (a list or space-separated), in order."""
    scopes: list = []
    for name in ("scope", "scp"):
        value = claims.get(name)
        items = value.split() if isinstance(value, str) else value if isinstance(value, list) else ()
        for item in items:
            if isinstance(item, str) and item not in scopes:
                scopes.append(item)
    return scopes


# --------------------------------------------------------------------------- how claims are rendered

def _go_claims(claims: dict) -> dict:
    """HTTP API: every claim a string, formatted as Go's fmt prints the decoded JSON; null claims left out."""
    return {name: _go_text(value) for name, value in claims.items() if value is not None}


def _go_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)   # the number as the token wrote it (Go's json.Number)
    if isinstance(value, list):
        return "[" + " ".join(_go_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items())) + "]"
    return "<nil>"


_DATE_CLAIMS = frozenset(("exp", "iat", "nbf"))


def _java_claims(claims: dict) -> dict:
    """REST user pools: every claim a string; the registered times as java.util.Date prints them in UTC."""
    rendered = {}
    for name, value in claims.items():
        if value is None:
            continue
        if name in _DATE_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
            rendered[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        else:
            rendered[name] = _java_text(value)
    return rendered


def _java_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):   # cognito:groups with one group is "admin", with two "admin,ops"
        return ",".join(_java_text(item) for item in value if item is not None)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
