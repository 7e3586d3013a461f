"""A local fake exchange for tests: HTTP and websocket servers on 127.0.0.1 (see ``server``)."""

from tests.fake_exchange.faults import Fault, FaultKind, FaultPlan
from tests.fake_exchange.server import FakeExchange

__all__ = ["FakeExchange", "Fault", "FaultKind", "FaultPlan"]
