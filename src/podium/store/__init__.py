"""The project file: schema, connections, transactions, event bus, archive."""

from podium.store.bus import EventBus
from podium.store.project import ProjectStore, Tx, row_to_event
from podium.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "EventBus", "ProjectStore", "Tx", "row_to_event"]
