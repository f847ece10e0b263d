"""The one SageMaker API: a JSON-protocol router, smsim's handlers, moto for the rest.

* :mod:`~simulator.endpoint.server` — :class:`Endpoint`: the running server.
* :mod:`~simulator.endpoint.router` — the WSGI app: smsim's handlers or moto's.
* :mod:`~simulator.endpoint.handlers` — the operations smsim serves (thin).
* :mod:`~simulator.endpoint.backend`, :mod:`~simulator.endpoint.jobs` — the state.
* :mod:`~simulator.endpoint.listing` — filters, sorting, pages, summaries.
* :mod:`~simulator.endpoint.wire` — the JSON protocol; :mod:`~simulator.endpoint.iam`.
"""

from simulator.endpoint.server import DEFAULT_PORT, Endpoint

__all__ = ["DEFAULT_PORT", "Endpoint"]
