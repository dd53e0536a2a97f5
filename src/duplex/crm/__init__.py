"""CRM: contacts matched to callers by number, and what a call's event record tells an agent about it (the
screen pop). A sans-IO core: phone numbers in, E.164 out; events in, the call's story out."""

from duplex.crm.phones import match_keys, normalise
from duplex.crm.story import CallStory, IvrInput, IvrStep, KeyPress, NoteEntry, QueueWait, call_story

__all__ = [
    "CallStory",
    "IvrInput",
    "IvrStep",
    "KeyPress",
    "NoteEntry",
    "QueueWait",
    "call_story",
    "match_keys",
    "normalise",
]
