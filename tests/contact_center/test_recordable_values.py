"""IVR variables as `ivr.variable_set` records them: scalars as they are, a lookup's object or list as JSON."""

from __future__ import annotations

import pytest

from duplex.events.types import payload_of
from duplex.services.contact_center.flow_call import recordable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", "42"),
        (7, 7),
        (2.5, 2.5),
        (True, True),
        (None, None),
        ({"tier": "gold", "since": 2019}, '{"tier":"gold","since":2019}'),
        (["a", 1], '["a",1]'),
    ],
)
def test_a_value_fits_the_event_payload(value: object, expected: object) -> None:
    kept = recordable(value)
    assert kept == expected
    payload = payload_of("ivr.variable_set", {"flow_id": 1, "node": "crm", "variable": "v", "value": kept})
    assert payload.to_data()["value"] == expected
