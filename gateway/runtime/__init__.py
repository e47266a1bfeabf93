"""The worker side: a zygote that forks workers, and the loop each worker runs.

Imports nothing from the rest of lambdagate except `gateway.wire`, so a zygote
starts fast and keeps little memory for its forks to copy.
"""
