"""Reports: projections of the event record (CDRs) that can always be rebuilt from it."""

from duplex.reports.live import LiveProjection
from duplex.reports.projections import Projection, apply_events, project, rebuild_calls

__all__ = ["LiveProjection", "Projection", "apply_events", "project", "rebuild_calls"]
