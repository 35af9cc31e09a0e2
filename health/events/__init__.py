"""The event layer: the only reader of events; daily tables, the manifest, two engines."""

from health.events.layer import (
    DAILY,
    MANIFEST,
    DuckDBEvents,
    EventsError,
    first_changed_day,
    latest_day,
    rebuild_from,
    refresh_events,
    stored_manifest,
)

__all__ = [
    "DAILY",
    "MANIFEST",
    "DuckDBEvents",
    "EventsError",
    "first_changed_day",
    "latest_day",
    "rebuild_from",
    "refresh_events",
    "stored_manifest",
]
