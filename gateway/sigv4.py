"""AWS Signature Version 4, verified as AWS verifies it: the Lambda API's callers (`--auth sigv4`)
and API Gateway's AWS_IAM routes (service execute-api).

The canonical request is built from the request as it arrived, the way botocore's signer builds it
from the request it sends (botocore.auth.SigV4Auth): the path percent-encoded once more, the query
parameters encoded and sorted, the signed headers lower-cased with their whitespace folded, and the
SHA-256 of the body. Credentials come from an AWS shared-credentials file (every profile's key) or
from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Answers for callers that fail are AWS's:
MissingAuthenticationTokenException, UnrecognizedClientException, InvalidSignatureException.
"""
from __future__ import annotations

import configparser
import hashlib
import hmac
import posixpath
import time
from calendar import timegm
from typing import Mapping, Optional
from urllib.parse import quote

from gateway.errors import LambdagateError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60          # AWS refuses a request signed more than 15 minutes away from its clock

BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.")


class AuthFailure(Exception):
    """A caller the service refuses: its error code, status and message."""

    def __init__(self, code: str, message: str, status: int = 403, canonical_request: Optional[str] = None,
                 string_to_sign: Optional[str] = None):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message
        # what the service computed when the signature did not match (API Gateway's answer shows them)
        self.canonical_request, self.string_to_sign = canonical_request, string_to_sign


def load_credentials(path: Optional[str], environ: Mapping[str, str]) -> dict:
    """access key id -> secret: from `path` (an AWS shared-credentials file; every profile counts),
    else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. A LambdagateError when there are none."""
    keys: dict = {}
    if path:
        parser = configparser.RawConfigParser()
        try:
            with open(path, encoding="utf-8") as f:
                parser.read_file(f)
        except (OSError, configparser.Error) as exc:
            raise LambdagateError(f"cannot read the credentials file {path}: {exc}") from None
        for section in parser.sections():
            key_id = parser.get(section, "aws_access_key_id", fallback=None)
            secret = parser.get(section, "aws_secret_access_key", fallback=None)
            if key_id and secret:
                keys[key_id.strip()] = secret.strip()
        if not keys:
            raise LambdagateError(f"the credentials file {path} holds no aws_access_key_id and "
                                  "aws_secret_access_key pair")
        return keys
    key_id, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise LambdagateError("--auth sigv4 needs credentials to check callers against: --credentials-file PATH "
                              "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
    return {key_id: secret}


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_path(raw_path: bytes) -> str:
    # botocore: quote(normalize_url_path(path), safe='/~') of the path it sends, already percent-encoded
    path = raw_path.decode("latin-1") or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return quote(normalized.replace("//", "/"), safe="/~")


def _canonical_query(query_string: bytes) -> str:
    # botocore signs a URL's query as sent: split on "&", each pair's key and value as they are
    # (already percent-encoded), sorted; nothing decoded ("+" stays "+")
    if not query_string:
        return ""
    pairs = []
    for pair in query_string.decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class SigV4Verifier:
    """Checks the Authorization header of a request against known credentials."""

    def __init__(self, credentials: dict, region: str, service: str = "lambda", clock=time.time):
        self.credentials = credentials
        self.region = region
        self.service = service
        self.clock = clock
        self._keys: dict = {}     # (key id, date) -> signing key, computed once a day per key

    def verify(self, method: str, raw_path: bytes, query_string: bytes, headers: list, body: bytes) -> str:
        """The caller's access key id; raises AuthFailure. `headers`: ASGI's (lower-case name, value) pairs."""
        values: dict = {}
        for name, value in headers:
            name = name.decode("latin-1")
            text = " ".join(value.decode("latin-1").split())   # as botocore folds the str it signs
            values[name] = f"{values[name]},{text}" if name in values else text
        auth = values.get("authorization")
        if not auth:
            raise AuthFailure("MissingAuthenticationTokenException", "Missing Authentication Token")
        algorithm, _, rest = auth.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        if algorithm != ALGORITHM or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
            raise AuthFailure("IncompleteSignatureException",
                              f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                              f"with the {ALGORITHM} algorithm.", 400)
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise AuthFailure("IncompleteSignatureException", f"Credential is malformed: {fields['Credential']}", 400)
        key_id, date, region, service, _ = scope
        secret = self.credentials.get(key_id)
        if secret is None:
            raise AuthFailure("UnrecognizedClientException", "The security token included in the request is invalid.")
        if region != self.region:
            raise AuthFailure("InvalidSignatureException",
                              f"Credential should be scoped to a valid region, not '{region}'. ")
        if service != self.service:
            raise AuthFailure("InvalidSignatureException",
                              f"Credential should be scoped to correct service: '{self.service}'. ")
        stamp = values.get("x-amz-date", "")
        self._check_time(stamp, date)
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed or any(name not in values for name in signed):
            raise AuthFailure("InvalidSignatureException", BAD_SIGNATURE)
        # the body's own hash, always: a client's x-amz-content-sha256 may only repeat it
        payload_hash = hashlib.sha256(body).hexdigest()
        claimed = values.get("x-amz-content-sha256")
        if claimed is not None and claimed != payload_hash and "x-amz-content-sha256" in signed:
            raise AuthFailure("InvalidSignatureException", BAD_SIGNATURE)
        canonical = "\n".join((method.upper(), _canonical_path(raw_path), _canonical_query(query_string),
                               "".join(f"{name}:{values[name]}\n" for name in signed), ";".join(signed),
                               payload_hash))
        to_sign = "\n".join((ALGORITHM, stamp, "/".join(scope[1:]), hashlib.sha256(canonical.encode()).hexdigest()))
        key = self._keys.get((key_id, date))
        if key is None:
            if len(self._keys) > 1024:
                self._keys.clear()
            key = self._keys[(key_id, date)] = _signing_key(secret, date, region, service)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        # compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a 403)
        if not hmac.compare_digest(expected.encode(), fields["Signature"].encode("utf-8", "surrogateescape")):
            raise AuthFailure("InvalidSignatureException", BAD_SIGNATURE, canonical_request=canonical,
                              string_to_sign=to_sign)
        return key_id

    def _check_time(self, stamp: str, scope_date: str) -> None:
        try:
            signed_s = timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise AuthFailure("IncompleteSignatureException", "Authorization header requires existence of either "
                              "a 'X-Amz-Date' or a 'Date' header.", 400) from None
        if not stamp.startswith(scope_date):
            raise AuthFailure("InvalidSignatureException", f"Date in Credential scope does not match YYYYMMDD from "
                              f"ISO-8601 version of date from HTTP: '{scope_date}' != '{stamp[:8]}', from '{stamp}'.")
        now_s = self.clock()
        if abs(now_s - signed_s) > MAX_SKEW_S:
            now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_s))
            bound = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_s + (MAX_SKEW_S if signed_s > now_s
                                                                             else -MAX_SKEW_S)))
            relation = "later" if signed_s > now_s else "earlier"
            sign = "+" if signed_s > now_s else "-"
            raise AuthFailure("InvalidSignatureException", f"Signature expired: {stamp} is now {relation} than "
                              f"{bound} ({now} {sign} 15 min.)")
