"""The signal log flows append targets to and the execution engine consumes by offset."""

from shriven.signals.log import MAX_ABS_WEIGHT, AppendResult, SignalLog, SignalReason
from shriven.signals.offsets import OffsetStore

__all__ = ["MAX_ABS_WEIGHT", "AppendResult", "OffsetStore", "SignalLog", "SignalReason"]
