"""Durable asynchronous invocation (InvocationType=Event): an SQLite event store with
group commit, a dispatcher with AWS's retry and age rules, and destinations."""
from gateway.async_invoke.dispatcher import AsyncInvoker
from gateway.async_invoke.store import Event, EventStore

__all__ = ["AsyncInvoker", "Event", "EventStore"]
