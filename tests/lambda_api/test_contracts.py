"""The contracts between the Lambda API, the asynchronous dispatcher and the scheduler
(gateway.types: Invoker, ConcurrencyControl, ManagedInvoker; gateway.lambda_api.control:
EventInvokeConfigs): the scheduler and the suite's one fake implement them, with the scheduler's
own signatures, and the account concurrency limit comes from the Config. No worker processes."""
import asyncio
import inspect

import pytest

from gateway.async_invoke import AsyncInvoker
from gateway.config import Config
from gateway.errors import FunctionNotFound, Throttled
from gateway.lambda_api.control import EventInvokeConfigs
from gateway.lambda_api.endpoint import build_lambda_app
from gateway.scheduler import Scheduler
from gateway.types import ConcurrencyControl, EventInvokeConfig, FunctionSpec, Invoker, ManagedInvoker

from support.fakes import Call, FakeInvoker
from support.servers import TestClient, wait_for



def _methods(protocol) -> list:
    return sorted(name for name, value in vars(protocol).items() if inspect.isfunction(value)
                  and not name.startswith("_"))


@pytest.mark.parametrize("protocol", [Invoker, ConcurrencyControl])
def test_the_scheduler_has_every_method_with_the_protocols_signature(protocol):
    assert _methods(protocol)
    for name in _methods(protocol):
        assert inspect.signature(getattr(Scheduler, name)) == inspect.signature(getattr(protocol, name)), name


def test_the_async_invoker_has_every_event_invoke_config_method_with_its_signature():
    assert _methods(EventInvokeConfigs)
    for name in _methods(EventInvokeConfigs):
        assert inspect.signature(getattr(AsyncInvoker, name)) == inspect.signature(getattr(EventInvokeConfigs, name))


def test_the_scheduler_and_the_fake_are_managed_invokers(tmp_path):
    scheduler = Scheduler([], Config(state_dir=str(tmp_path), console_logs=False))
    for implementation in (scheduler, FakeInvoker()):
        assert isinstance(implementation, Invoker)
        assert isinstance(implementation, ConcurrencyControl)
        assert isinstance(implementation, ManagedInvoker)
    assert isinstance(AsyncInvoker(FakeInvoker(), Config(state_dir=str(tmp_path))), EventInvokeConfigs)


def _spec(name, code_dir, **kw):
    return FunctionSpec(logical_id=name.title(), function_name=name, handler="app.handler", runtime="python3.11",
                        code_dir=str(code_dir), **kw)


def test_the_fake_implements_every_method(tmp_path):
    fake = FakeInvoker([_spec("f", tmp_path, reserved_concurrency=3), _spec("g", tmp_path)],
                       script={"g": "throttle"})
    assert [s.function_name for s in fake.functions()] == ["f", "g"]
    assert fake.function("F") is fake.function("f")
    with pytest.raises(FunctionNotFound):
        fake.function("nope")
    assert fake.reserved_concurrency("F") == 3 and fake.reserved_concurrency("g") is None
    fake.set_reserved_concurrency("G", 0)
    assert fake.reserved_concurrency("g") == 0
    fake.set_reserved_concurrency("f", None)
    assert fake.reserved_concurrency("f") is None
    with pytest.raises(FunctionNotFound):
        fake.reserved_concurrency("nope")
    assert fake.closing is False

    async def invoke():
        result = await fake.invoke("F", b'{"a": 1}', request_id="r1", invoked_arn="arn", want_log=True)
        with pytest.raises(Throttled):
            await fake.invoke("g", b"{}")
        with pytest.raises(FunctionNotFound):
            await fake.invoke("nope", b"{}")
        return result

    result = asyncio.run(invoke())
    assert result.request_id == "r1" and not result.failed
    first = fake.calls[0]
    assert isinstance(first, Call)
    assert (first.function, first.payload, first.request_id, first.invoked_arn, first.want_log) == \
        ("F", b'{"a": 1}', "r1", "arn", True)
    assert tuple(first) == ("F", {"a": 1}, b'{"a": 1}')
    assert fake.functions_called == ["F", "g"]


def test_account_concurrency_comes_from_the_config(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    fake = FakeInvoker([_spec("f", tmp_path / "src"), _spec("g", tmp_path / "src", reserved_concurrency=20)])
    app = build_lambda_app(fake, Config(state_dir=str(tmp_path / "state"), account_concurrency=150))
    with TestClient(app) as client:
        limit = client.get("/2016-08-19/account-settings").json()["AccountLimit"]
        assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (150, 130)
        refused = client.put("/2017-10-31/functions/f/concurrency", json={"ReservedConcurrentExecutions": 31})
        assert refused.status_code == 400
        assert "minimum value of [100]" in refused.json()["Message"]
        accepted = client.put("/2017-10-31/functions/f/concurrency", json={"ReservedConcurrentExecutions": 30})
        assert accepted.status_code == 200
        assert fake.reserved_concurrency("f") == 30
        assert client.get("/2019-09-30/functions/f/concurrency").json() == {"ReservedConcurrentExecutions": 30}
        limit = client.get("/2016-08-19/account-settings").json()["AccountLimit"]
        assert limit["UnreservedConcurrentExecutions"] == 100
        assert client.delete("/2017-10-31/functions/f/concurrency").status_code == 204
        assert fake.reserved_concurrency("f") is None


def test_event_invoke_config_reaches_the_async_invoker(tmp_path):
    fake = FakeInvoker([_spec("f", tmp_path)])
    app = build_lambda_app(fake, Config(state_dir=str(tmp_path / "state")))
    ai = app.state.async_invoker
    with TestClient(app) as client:
        r = client.put("/2019-09-25/functions/f/event-invoke-config", json={"MaximumRetryAttempts": 1})
        assert r.status_code == 200 and r.json()["MaximumRetryAttempts"] == 1
        assert ai.event_invoke_config(fake.function("f")) == EventInvokeConfig(maximum_retry_attempts=1)
        assert client.post("/2014-11-13/functions/f/invoke-async/", content=b'{"x": 1}').status_code == 202
        wait_for(lambda: fake.calls, 10, "the accepted event to run")
    assert [c.payload for c in fake.calls] == [b'{"x": 1}']
