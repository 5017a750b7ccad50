"""Recovery under fire (``make chaos``): the whole system driven with a realistic HIS mix while its
services are killed with SIGKILL and restarted, then checked by independent sums. ``python -m
chaos --help``; ``python -m chaos.membership`` measures what the broker does to a consumer group
when a member is killed, with and without static membership. Run from the repository: it starts
services the way the tests do (``tests/support.py``)."""
