"""Public contracts of the cross-region direct settlement platform (异地就医直接结算).

Every event and command that crosses a service boundary is a frozen pydantic v2 model
in this package, wrapped in one :class:`~contracts.envelope.Envelope`. Topic names, their
partition keys, producers and consumers are listed once in :mod:`contracts.topics`.
HIS adapters depend on this package only; it imports nothing from ``services``.
"""
