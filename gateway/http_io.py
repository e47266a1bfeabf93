"""ASGI plumbing shared by the HTTP surfaces (API Gateway, Lambda API): reading a
request body under a size limit, and answering with one (status, headers, body), in one
write where lambdagate's server offers it."""
from __future__ import annotations


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


async def read_body(receive, limit: int) -> tuple:
    """(body, or None when it passes `limit`; total size). Reads to the end, so a
    keep-alive connection stays usable after a refusal; a disconnect raises ClientGone
    (a truncated body is never acted on)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body = message.get("body", b"")
    if not message.get("more_body"):
        return (body if len(body) <= limit else None), len(body)
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return (b"".join(chunks) if size <= limit else None), size


def body_framing(scope) -> tuple:
    """(Content-Length when valid, whether a body may follow). A request with neither a
    Content-Length nor a Transfer-Encoding has no body (RFC 9112 §6.3): nothing to read."""
    length = None
    may_follow = False
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                length = int(value)
            except ValueError:
                may_follow = True
            else:
                may_follow = may_follow or length > 0
        elif key == b"transfer-encoding":
            may_follow = True
    return length, may_follow


# Scope key under which lambdagate's server offers a callable(status, headers, body) -> bool that
# sends a whole response in one write (False: take the ASGI path). The headers must be valid and
# frame the body (respond() sees to that).
RESPOND_KEY = "lambdagate.respond"
# Scope key under which the API Gateway port's protocol passes the header names as the client cased
# them: REST API events keep the client's casing, and ASGI lower-cases names.
RAW_HEADERS_KEY = "lambdagate.raw_headers"


async def respond(scope, send, response) -> None:
    """Send (status, headers, body); the framing is set here, for every surface: Content-Length,
    or, after 204 and 304, no content at all (RFC 9110 8.6, 15.3.5, 15.4.5): a body there would
    be read by a keep-alive client as the start of the next response."""
    status, headers, body = response
    if status == 204 or status == 304:
        body = b""
    else:
        headers.append((b"content-length", str(len(body)).encode()))
    # popped, not read: the scope would otherwise hold it, and through it the request cycle that
    # holds the scope, a reference cycle per request left for the garbage collector
    respond_whole = scope.pop(RESPOND_KEY, None)
    if respond_whole is not None and respond_whole(status, headers, body):
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
