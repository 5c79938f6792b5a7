"""The audit parts the server holds together: the event log, the trail definitions and their delivery."""

from __future__ import annotations

from pathlib import Path

from outcrop.audit.log import AuditLog
from outcrop.audit.trails import TrailDelivery, TrailStore
from outcrop.storage.objects import ObjectStore


class AuditTrail:
    def __init__(self, root: Path, objects: ObjectStore, account: str, delivery_seconds: float) -> None:
        self.events = AuditLog(root / "events.sqlite3")
        self.trails = TrailStore(root / "trails.sqlite3", account=account)
        self.delivery = TrailDelivery(self.events, self.trails, objects, account, delivery_seconds)

    def close(self) -> None:
        """Stop delivering, then write what is queued and close the log (the object store closes later)."""
        self.delivery.close()
        self.events.close()
        self.trails.close()
