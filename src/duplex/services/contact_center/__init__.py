"""The inbound contact center, live: IVR flows run on real calls (`flow_call`), one ACD per node offers the
queued calls to agents' registered phones (`center`), agent states, and recording by queue policy."""

from duplex.services.contact_center.center import FEATURE_CODES, ContactCenter
from duplex.services.contact_center.flow_call import FlowCall

__all__ = ["FEATURE_CODES", "ContactCenter", "FlowCall"]
