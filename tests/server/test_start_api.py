"""`lambdagate start-api` for real: a subprocess on a free port, spoken to over HTTP with httpx.

Covers the examples (every route of pets-api, hello-world), the startup route table and time,
concurrency (parallel cold starts, isolation between functions, reserved concurrency), code
reload, EAGER warm-up, graceful shutdown on SIGTERM/SIGINT and the per-function log files.
"""
from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import struct
import threading
import time

import httpx
import pytest

from support.processes import environment_pids, host_descendants, host_parents, thread_names
from support.servers import EXAMPLES, copy_app, pid_gone, wait_for

pytestmark = pytest.mark.integration   # starts real processes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def pets(module_start_api):
    return module_start_api(EXAMPLES / "pets-api" / "template.yaml", name="pets")


@pytest.fixture(scope="module")
def hello(module_start_api):
    return module_start_api(EXAMPLES / "hello-world" / "template.yaml", name="hello")


@pytest.fixture(scope="module")
def lab(module_start_api, tmp_path_factory):
    template = copy_app("lab", tmp_path_factory.mktemp("lab"))
    return module_start_api(template, "--no-reload", name="lab")


def client(server, **kw) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=kw.pop("timeout", 15), **kw)


def png_size(data: bytes) -> tuple:
    assert data[:8] == PNG_SIGNATURE, data[:16]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- the lab's processes, from the host
# A function can leave no file the host sees and knows only its PID namespace's pids, so lab.py names
# its thread "env-<function>" from Init on and "run-<function>" while a slow handler sleeps; these
# helpers find those names among the start-api process's descendants in the host's /proc.

def lab_processes(server, parents=None) -> dict:
    """Host pid -> its thread names, for each of the server's descendants that runs lab.py."""
    found = {}
    for pid in host_descendants(server.proc.pid, parents):
        names = {n for n in thread_names(pid) if n.startswith(("env-", "run-"))}
        if names:
            found[pid] = names
    return found


def environments(server) -> dict:
    """Function name -> the host pids of its execution environments (each running lab.py)."""
    by_function = {}
    for pid, names in lab_processes(server).items():
        functions = {n[4:] for n in names}
        assert len(functions) == 1, (pid, names)
        by_function.setdefault(functions.pop(), []).append(pid)
    return {name: sorted(pids) for name, pids in by_function.items()}


def running(server, function: str) -> list:
    """Host pids of the environments where `function`'s slow handler is sleeping now."""
    return [pid for pid, names in lab_processes(server).items() if f"run-{function}" in names]


# --------------------------------------------------------------------------- pets-api, every route

def test_list_pets_with_and_without_query(pets):
    with client(pets) as c:
        response = c.get("/pets")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["greeting"] == "hello"                # template parameter default via Globals env
        assert body["stage"] == "dev"
        assert {"Rex", "Tom"} <= {p["name"] for p in body["pets"]}
        dogs = c.get("/pets", params={"kind": "dog"}).json()["pets"]
        assert [p["name"] for p in dogs] == ["Rex"]
        assert c.get("/pets?kind=bird").json()["pets"] == []


def test_create_pet_is_201_with_json(pets):
    with client(pets) as c:
        response = c.post("/pets", json={"name": "Nemo", "kind": "fish"})
        assert response.status_code == 201
        created = response.json()
        assert created["name"] == "Nemo" and created["kind"] == "fish" and created["id"]
        bad = c.post("/pets", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400
        assert bad.json() == {"message": "body must be JSON"}


def test_get_pet_by_path_parameter_and_404_from_the_function(pets):
    with client(pets) as c:
        response = c.get("/pets/1")
        assert response.status_code == 200
        assert response.json() == {"id": "1", "name": "Rex", "kind": "dog"}
        assert re.fullmatch(UUID, response.headers["x-amzn-RequestId"])
        missing = c.get("/pets/999")
        assert missing.status_code == 404
        assert missing.json() == {"message": "no such pet"}
        assert "x-amzn-ErrorType" not in missing.headers       # the function's 404, not API Gateway's


def test_http_api_pet_route(pets):
    with client(pets) as c:
        response = c.get("/v2/pets/2")
        assert response.status_code == 200
        assert response.json() == {"id": "2", "name": "Tom", "kind": "cat"}
        assert response.headers["content-type"] == "application/json"   # payload 2.0 inference
        assert response.headers["apigw-requestid"]
        missing = c.get("/v2/pets/999")
        assert missing.status_code == 404
        assert missing.json() == {"message": "no such pet"}


def test_binary_png_for_rest_when_accept_matches(pets):
    with client(pets) as c:
        response = c.get("/badge/rex", headers={"Accept": "image/png"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert png_size(response.content) == (32, 16)
        assert int(response.headers["content-length"]) == len(response.content)
        http_api = c.get("/v2/badge/rex")                      # HTTP API always decodes base64 bodies
        assert http_api.status_code == 200
        assert http_api.headers["content-type"] == "image/png"
        assert http_api.content == response.content


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/html,image/png"])
def test_rest_returns_base64_text_when_accept_does_not_match(pets, accept):
    with client(pets) as c:
        response = c.get("/badge/rex", headers={"Accept": accept})
        assert response.status_code == 200
        assert not response.content.startswith(PNG_SIGNATURE)
        decoded = base64.b64decode(response.content, validate=True)
        assert png_size(decoded) == (32, 16)


def test_greedy_proxy_route(pets):
    with client(pets) as c:
        response = c.get("/files/docs/2024/report.txt")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain"
        assert response.text == "GET file docs/2024/report.txt\n"
        assert c.delete("/files/x").text == "DELETE file x\n"
        assert c.post("/files/a/b", content=b"data").text == "POST file a/b\n"


def test_default_route_catches_everything_else(pets):
    with client(pets) as c:
        response = c.get("/anything/else", params={"q": "1"})
        assert response.status_code == 200
        assert response.json() == {"route": "$default", "path": "/anything/else", "method": "GET"}
        assert c.put("/x").json()["method"] == "PUT"
        # a greedy variable needs at least one segment: /files itself is not the proxy's
        assert c.get("/files").json()["route"] == "$default"


def test_event_over_lambdas_6_mb_is_413(pets):
    with client(pets) as c:
        response = c.post("/pets", content=b"[" + b"1," * 3_500_000 + b"1]",
                          headers={"Content-Type": "application/json"})
        assert response.status_code == 413


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_10_mb_is_413_over_http(pets, chunked):
    body = b"x" * (10 * 1024 * 1024 + 1)

    def chunks():
        for i in range(0, len(body), 1 << 18):
            yield body[i:i + (1 << 18)]

    with client(pets) as c:
        response = c.post("/pets", content=chunks() if chunked else body)
        assert response.status_code == 413
        assert c.get("/pets/1").status_code == 200          # the server is fine afterwards


def test_unmatched_rest_path_is_403(hello):
    with client(hello) as c:
        ok = c.get("/hello")
        assert ok.status_code == 200
        assert ok.json() == {"message": "hello world"}
        for method, path in (("GET", "/nothing"), ("POST", "/hello"), ("GET", "/hello/world"), ("GET", "/")):
            response = c.request(method, path)
            assert response.status_code == 403, (method, path)
            assert response.json() == {"message": "Missing Authentication Token"}
            assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_route_table_is_printed_at_startup(pets):
    text = pets.stderr_text()
    expected = [
        ("GET", "/pets", "PetsFunction", "REST"), ("POST", "/pets", "PetsFunction", "REST"),
        ("GET", "/pets/{petId}", "PetsFunction", "REST"), ("GET", "/v2/pets/{petId}", "PetsFunction", "HTTP API"),
        ("GET", "/badge/{name}", "ImageFunction", "REST"), ("GET", "/v2/badge/{name}", "ImageFunction", "HTTP API"),
        ("ANY", "/files/{proxy+}", "ProxyFunction", "REST"), ("ANY", "$default", "ProxyFunction", "HTTP API"),
    ]
    assert pets.base_url in text
    for method, path, function, kind in expected:
        row = rf"^\s*{re.escape(method)}\s+{re.escape(path)}\s+{function}\s+{kind}\b"
        assert re.search(row, text, re.M), f"no route row for {method} {path} in:\n{text}"


def test_ready_in_well_under_a_second(hello):
    print(f"\nstart-api hello-world: process start -> first accepted connection in {hello.ready_s * 1000:.0f} ms")
    assert hello.ready_s < 3.0, f"ready after {hello.ready_s:.2f} s"


def test_function_log_file_has_start_end_report(pets):
    with client(pets) as c:
        assert c.get("/pets/2").status_code == 200

    def complete_log():  # every START has its REPORT (the file is flushed shortly after each write)
        text = pets.log_text("PetsFunction")
        n = text.count("REPORT RequestId")
        return text if n and text.count("START RequestId") == n else None

    text = wait_for(complete_log, 5, "PetsFunction.log to get a REPORT line")
    starts = re.findall(rf"^START RequestId: ({UUID}) Version: \$LATEST$", text, re.M)
    ends = re.findall(rf"^END RequestId: ({UUID})$", text, re.M)
    reports = re.findall(rf"^REPORT RequestId: ({UUID})\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                         r"Memory Size: 256 MB\tMax Memory Used: \d+ MB", text, re.M)
    assert starts and starts == ends == reports


# --------------------------------------------------------------------------- concurrency

async def _gather(base_url: str, paths: list, timeout_s: float = 15):
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits) as c:
        return await asyncio.gather(*(c.get(p) for p in paths))


def test_parallel_requests_to_a_slow_function_run_in_parallel(lab):
    started = time.perf_counter()
    responses = asyncio.run(_gather(lab.base_url, ["/slow"] * 16))
    elapsed = time.perf_counter() - started
    print(f"\n16 parallel requests to a 0.5 s function: {elapsed:.2f} s")
    assert [r.status_code for r in responses] == [200] * 16
    served_by = {r.json()["environment"] for r in responses}
    assert elapsed < 4.0, f"16 x 0.5 s took {elapsed:.2f} s"
    assert len(served_by) >= 8, f"only {len(served_by)} distinct workers served 16 concurrent requests"


def test_slow_function_does_not_delay_a_fast_one(lab):
    slow_result = {}

    def call_slow():
        with client(lab) as c:
            slow_result["response"] = c.get("/lingering")
            slow_result["done_at"] = time.perf_counter()

    thread = threading.Thread(target=call_slow)
    thread.start()
    try:
        wait_for(lambda: running(lab, "Lingering"), 10, "the 2 s function to start")
        with client(lab) as c:
            started = time.perf_counter()
            fast = c.get("/fast")
            fast_done = time.perf_counter()
        assert fast.status_code == 200
        assert fast_done - started < 1.0, f"fast function took {fast_done - started:.2f} s"
        assert thread.is_alive(), "the 2 s function finished before the fast one was answered"
    finally:
        thread.join(15)
    assert slow_result["response"].status_code == 200
    assert slow_result["done_at"] > fast_done


def test_reserved_concurrency_of_one_throttles_the_second_request(lab):
    responses = asyncio.run(_gather(lab.base_url, ["/limited", "/limited"]))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 500], statuses     # Lambda's throttle reaches the client as API Gateway's 500
    throttled = next(r for r in responses if r.status_code == 500)
    assert throttled.json() == {"message": "Internal server error"}
    with client(lab) as c:                                   # the slot is free again afterwards
        assert c.get("/limited").status_code == 200


# --------------------------------------------------------------------------- function failures, for real

def test_function_timeout_is_502_for_rest_and_500_for_http_api(lab):
    started = time.perf_counter()
    rest, http_api = asyncio.run(_gather(lab.base_url, ["/timeout", "/v2/timeout"]))
    elapsed = time.perf_counter() - started
    assert rest.status_code == 502
    assert rest.content == b'{"message": "Internal server error"}'
    assert http_api.status_code == 500
    assert http_api.content == b'{"message":"Internal Server Error"}'
    assert 0.9 < elapsed < 4.0, f"a 1 s timeout answered after {elapsed:.2f} s"
    log = wait_for(lambda: (t := lab.log_text("TimesOut")).count("Status: timeout") >= 2 and t, 5,
                   "two timeout REPORT lines in TimesOut.log")
    assert "Task timed out after 1.00 seconds" in log


def test_function_exception_stays_in_the_log_not_the_response(lab):
    with client(lab) as c:
        rest = c.get("/raises")
        http_api = c.get("/v2/raises")
    assert rest.status_code == 502 and http_api.status_code == 500
    for response in (rest, http_api):
        text = response.text + str(response.headers)
        assert "4242" not in text and "ValueError" not in text and "Traceback" not in text
    log = wait_for(lambda: (t := lab.log_text("Raises")).count("REPORT") >= 2 and t, 5, "Raises.log REPORT lines")
    assert "about to fail" in log
    assert "secret failure detail 4242" in log
    assert "Status: error\tError Type: ValueError" in log


def test_response_over_6_mb_is_502(lab):
    with client(lab) as c:
        response = c.get("/big")
    assert response.status_code == 502
    assert response.content == b'{"message": "Internal server error"}'


# --------------------------------------------------------------------------- code reload

NEW_CODE = 'VERSION = "version-two"\n\n\ndef handler(event, context):\n    return {"statusCode": 200, "body": VERSION}\n'


def test_code_change_is_picked_up_by_the_next_request(start_api, tmp_path):
    template = copy_app("reload", tmp_path)
    server = start_api(template)
    with client(server) as c:
        assert c.get("/version").text == "v1"
        (template.parent / "src" / "app.py").write_text(NEW_CODE)
        changed = time.perf_counter()
        wait_for(lambda: c.get("/version").text == "version-two", 10, "the edited handler to be served",
                 interval_s=0.05)
        print(f"\nreload picked up the edit after {time.perf_counter() - changed:.2f} s")


def test_no_reload_keeps_serving_the_loaded_code(start_api, tmp_path):
    template = copy_app("reload", tmp_path)
    server = start_api(template, "--no-reload")
    with client(server) as c:
        assert c.get("/version").text == "v1"
        (template.parent / "src" / "app.py").write_text(NEW_CODE)
        deadline = time.perf_counter() + 2.0     # several times what reload needs (200 ms debounce)
        seen = set()
        while time.perf_counter() < deadline:
            seen.add(c.get("/version").text)
        assert seen == {"v1"}


# --------------------------------------------------------------------------- warm containers

FUNCTIONS = ("Slow", "Lingering", "Fast", "Limited", "Sleepy", "TimesOut", "Raises", "Big")


@pytest.mark.parametrize("mode", ["EAGER", "LAZY"])
def test_warm_containers(start_api, tmp_path, mode):
    template = copy_app("lab", tmp_path)
    server = start_api(template, "--no-reload", "--warm-containers", mode)
    inits = environments(server)                     # the environments that ran Init before serving
    if mode == "EAGER":
        assert {name: len(pids) for name, pids in inits.items()} == {name: 1 for name in FUNCTIONS}, \
            f"EAGER must start one worker per function before serving: {inits}"
    else:
        assert inits == {}
    with client(server) as c:
        response = c.get("/fast")
    assert response.status_code == 200
    log = wait_for(lambda: (t := server.log_text("Fast")) and "REPORT" in t and t, 5, "Fast.log REPORT line")
    report = next(line for line in log.splitlines() if line.startswith("REPORT"))
    if mode == "EAGER":
        assert environments(server)["Fast"] == inits["Fast"]   # the eager worker served: no second one
        assert "Init Duration" not in report
        assert "INIT_START" not in log
    else:
        assert "Init Duration" in report
        assert "INIT_START" in log


# --------------------------------------------------------------------------- shutdown

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown_finishes_in_flight_request(start_api, tmp_path, signum):
    template = copy_app("lab", tmp_path)
    server = start_api(template, "--no-reload")
    result = {}

    def call():
        try:
            with client(server) as c:
                result["response"] = c.get("/sleepy")
        except Exception as exc:  # reported below
            result["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    try:
        [worker_pid] = wait_for(lambda: running(server, "Sleepy"), 10, "the 1 s request to be in flight")
        # the worker's parent is the server's child, the zygote; its environment may hold an init too
        zygote = host_parents()[worker_pid]
        assert host_parents()[zygote] == server.proc.pid
        with open(f"/proc/{zygote}/cmdline", "rb") as f:
            assert b"gateway.runtime.zygote" in f.read()
        environment = environment_pids(worker_pid)
        server.signal(signum)
    finally:
        thread.join(15)
    assert "error" not in result, result.get("error")
    assert result["response"].status_code == 200
    assert result["response"].json()["done"] is True
    assert server.wait(15) == 0
    for pid, what in [(pid, "environment's") for pid in environment] + [(zygote, "zygote")]:
        wait_for(lambda: pid_gone(pid), 5, f"the {what} process {pid} to exit")
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/sleepy", timeout=2)
