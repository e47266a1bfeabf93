"""The worker side: a zygote that forks workers, and the loop each worker runs.

Imports nothing from the rest of lambdagate except `gateway.wire`, so a zygote
starts fast and keeps little memory for its forks to copy. Runs on any Python from 3.8
with the standard library alone (a zygote of a function's version other than lambdagate's):
msgpack and orjson are used where they are installed, gateway.runtime.stdlib_msgpack and
stdlib_json (the same bytes) where not.
"""
