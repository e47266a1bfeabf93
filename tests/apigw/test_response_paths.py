"""Response mapping: the one-pass header encoder against the general path it stands in for
(``_merge_headers``, then encoding the merged headers), and the mappers' exact output."""
import base64
import itertools

import orjson
import pytest

from gateway.apigw import responses as R
from gateway.apigw.responses import MalformedResponse, map_http_response, map_rest_response


def j(obj):
    return orjson.dumps(obj)


def general(headers, multi, cookies=None, ct_name=b"Content-Type"):
    return R._encode_headers(None, R._merge_headers(headers, multi), cookies, ct_name)


HEADER_CASES = [
    None,
    {},
    {"X-A": "1"},
    {"Content-Type": "text/html", "Cache-Control": "no-store"},
    {"X-N": 3, "X-F": 2.5, "X-T": True, "X-F2": False, "X-None": None},
    {"X-Euro": "\u20ac", "X-Cafe": "caf\u00e9"},
    {"Content-Length": "99", "Transfer-Encoding": "chunked", "Connection": "close", "X-Keep": "1"},
    {"X-A": "1", "x-a": "2"},                       # repeated case-insensitively: general path
    {"X-None": None, "x-none": "kept"},
]
MULTI_CASES = [
    None,
    {},
    {"Set-Cookie": ["a=1", "b=2"]},
    {"x-a": ["m1", "m2"]},                            # overrides headers' X-A, in its place
    {"Content-Type": []},                           # no value: the default content type is added
    {"X-Skip": None, "X-Mixed": [None, 1, "s"]},
    {"CONTENT-TYPE": ["text/csv"], "content-length": ["1"]},
]


@pytest.mark.parametrize("headers, multi", list(itertools.product(HEADER_CASES, MULTI_CASES)))
def test_encoder_matches_the_general_path(headers, multi):
    fast = R._encode_headers(headers, multi, None, b"Content-Type")
    slow = general(headers, multi)
    if fast is None:  # declined: only for names repeated case-insensitively
        names = [n.lower() for n in (headers or {}) if headers[n] is not None]
        names += [n.lower() for n in (multi or {}) if multi[n] is not None]
        assert len(set(names)) < len(names)
    else:
        assert fast == slow
    assert R._headers_of(headers, multi, b"Content-Type") == slow
    for cookies in (None, ["c=1", "d=\u20ac"]):
        assert map_http_response(j({"statusCode": 200, "headers": headers, "cookies": cookies}), "2.0")[1] == \
            general(headers, None, cookies, b"content-type")


@pytest.mark.parametrize("name", ["X-Caf\u00e9", "", "a b", "a:b", "X/Y", "what?", "X\r\nInjected"])
def test_header_names_outside_the_token_grammar_are_malformed_on_both_paths(name):
    for headers, multi in (({name: "v"}, None), ({"X-Ok": "1", name: "v"}, None), (None, {name: ["v"]}),
                           ({"X-A": "1", "x-a": "2", name: "v"}, None)):   # the last one: general path
        with pytest.raises(MalformedResponse, match="characters HTTP does not allow"):
            R._headers_of(headers, multi, b"Content-Type")
        with pytest.raises(MalformedResponse, match="characters HTTP does not allow"):
            map_rest_response(j({"statusCode": 200, "headers": headers, "multiValueHeaders": multi}), None, ())


def test_case_insensitive_repeats_take_the_general_path():
    assert R._encode_headers({"X-A": "1", "x-a": "2"}, None, None, b"C") is None
    assert R._encode_headers({"X-A": "1"}, {"x-a": ["2"]}, None, b"C") is None
    result = j({"headers": {"X-A": "1", "X-B": "b"}, "multiValueHeaders": {"x-a": ["2", "3"]}})
    _, headers, _ = map_rest_response(result, None, ())
    # multiValueHeaders replaces the single value under its own spelling, in the first one's place
    assert headers == [(b"x-a", b"2"), (b"x-a", b"3"), (b"X-B", b"b"), (b"Content-Type", b"application/json")]


def test_encoder_declines_odd_values_so_the_general_path_raises():
    for headers, multi, message in [({"X": {"a": 1}}, None, "header X must be a string, not dict"),
                                    ("text", None, "headers must be an object"),
                                    (None, {"X": "one"}, "multiValueHeaders['X'] must be a list"),
                                    (None, [1], "multiValueHeaders must be an object"),
                                    (None, {"X": [[1]]}, "header X must be a string, not list")]:
        assert R._encode_headers(headers, multi, None, b"C") is None
        with pytest.raises(MalformedResponse, match=message.replace("[", r"\[").replace("]", r"\]")):
            map_rest_response(j({"headers": headers, "multiValueHeaders": multi, "body": {"bad": 1}}), None, ())


def test_hello_world_exact():
    result = j({"statusCode": 200, "body": '{"message": "hello world"}'})
    assert map_rest_response(result, "*/*", ()) == (200, [(b"Content-Type", b"application/json")],
                                                    b'{"message": "hello world"}')
    assert map_http_response(result, "1.0") == (200, [(b"Content-Type", b"application/json")],
                                                b'{"message": "hello world"}')
    assert map_http_response(result, "2.0") == (200, [(b"content-type", b"application/json")],
                                                b'{"message": "hello world"}')


def test_headers_exact():
    result = j({"statusCode": "201", "body": "caf\u00e9", "headers": {"Content-Type": "text/plain", "X-N": 3,
                                                                      "X-U": "\u20ac", "content-length": "1"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "cookies": ["c=3"]})
    expected = [(b"Content-Type", b"text/plain"), (b"X-N", b"3"), (b"X-U", "\u20ac".encode())]
    with pytest.raises(MalformedResponse):  # cookies is not a REST key
        map_rest_response(result, None, ())
    assert map_http_response(result, "1.0") == (
        201, expected + [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")], "caf\u00e9".encode())
    assert map_http_response(result, "2.0") == (201, expected + [(b"set-cookie", b"c=3")], "caf\u00e9".encode())


def test_body_and_flag_forms():
    data = bytes(range(256))
    b64 = base64.b64encode(data).decode()
    for flag in (True, "true", "TRUE"):
        assert map_rest_response(j({"body": b64, "isBase64Encoded": flag}), "image/png", ("image/*",))[2] == data
        assert map_http_response(j({"statusCode": 200, "body": b64, "isBase64Encoded": flag}), "2.0")[2] == data
        assert map_http_response(j({"statusCode": 200, "body": b64, "isBase64Encoded": flag}), "1.0")[2] == data
    for flag in (False, "false", None):
        assert map_rest_response(j({"body": b64, "isBase64Encoded": flag}), "image/png", ("image/*",))[2] == \
            b64.encode()
    assert map_rest_response(j({"body": b64, "base64Encoded": True}), "image/png", ("image/*",))[2] == data
    assert map_rest_response(j({"body": b64, "isBase64Encoded": True}), "text/html", ("image/*",))[2] == \
        b64.encode()
    for flag in (0, 1, "yes"):
        with pytest.raises(MalformedResponse, match="isBase64Encoded must be a boolean"):
            map_rest_response(j({"body": "x", "isBase64Encoded": flag}), None, ())
    assert map_rest_response(j({"statusCode": 204, "body": None}), None, ())[2] == b""
    assert map_http_response(j({"statusCode": 200, "body": 12.5}), "2.0")[2] == b"12.5"
    assert map_http_response(j({"statusCode": 200, "body": True}), "1.0")[2] == b"true"


def test_status_forms_and_errors_in_order():
    assert map_rest_response(j({"statusCode": " 404 "}), None, ())[0] == 404
    assert map_http_response(j({"statusCode": 201.0}), "2.0")[0] == 201
    for status in (True, 99, 600, "x", 2.5):
        with pytest.raises(MalformedResponse, match="statusCode"):
            map_rest_response(j({"statusCode": status, "headers": "bad"}), None, ())
    # headers are checked before cookies, cookies before the body
    with pytest.raises(MalformedResponse, match="headers must be an object"):
        map_http_response(j({"statusCode": 200, "headers": 1, "cookies": [1], "body": {}}), "2.0")
    with pytest.raises(MalformedResponse, match="cookies must be a list of strings"):
        map_http_response(j({"statusCode": 200, "headers": {"A": "1"}, "cookies": [1], "body": {}}), "2.0")
    with pytest.raises(MalformedResponse, match="cookies must be a list of strings"):
        map_http_response(j({"statusCode": 200, "headers": {"A": "1", "a": "2"}, "cookies": "c"}), "2.0")
    with pytest.raises(MalformedResponse, match="body must be a string"):
        map_http_response(j({"statusCode": 200, "cookies": ["c"], "body": []}), "2.0")
