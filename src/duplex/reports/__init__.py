"""Reports: projections of the event record (CDRs) that can always be rebuilt from it."""

from duplex.reports.projections import apply_events, project, rebuild_calls

__all__ = ["apply_events", "project", "rebuild_calls"]
