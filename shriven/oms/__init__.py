"""Order management: the order state machine, the crash-safe journal and the order manager.

The engine creates an order, has risk deny or lets it through, ``submit``s it (journaled and
synced: the acknowledgement point), sends it, and feeds venue outcomes to ``apply``. After a
crash, ``OrderManager.recover(path)`` rebuilds the exact state from the journal.
"""

from shriven.oms.journal import Journal, JournalCorrupt, JournalLocked, JournalRecord
from shriven.oms.manager import OrderManager
from shriven.oms.order import Order
from shriven.oms.records import OrderSnapshot, SignalConsumed, Snapshot
from shriven.oms.state import TRANSITIONS, IllegalTransition, next_state

__all__ = [
    "TRANSITIONS",
    "IllegalTransition",
    "Journal",
    "JournalCorrupt",
    "JournalLocked",
    "JournalRecord",
    "Order",
    "OrderManager",
    "OrderSnapshot",
    "SignalConsumed",
    "Snapshot",
    "next_state",
]
