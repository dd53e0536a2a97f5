"""Outbound trunk registration driven by a fake clock, against a carrier built from the real DigestServer."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from duplex.sip.digest import DigestServer
from duplex.telephony.trunk_registration import (
    RegistrationState,
    SendRegister,
    TrunkRegistration,
    refresh_delay,
)
from duplex.telephony.trunks import TrunkConfig

S = RegistrationState
TRUNK = TrunkConfig(
    id=9,
    name="carrier",
    host="sip.carrier.test",
    port=5070,
    transport="tcp",
    username="duplex",
    password="s3cret",
)


@dataclass
class Carrier:
    """A carrier registrar that really checks digest credentials (nonce TTL 300 s)."""

    password: str = "s3cret"
    min_expires: int | None = None
    grant: int | None = None
    server: DigestServer = field(default_factory=lambda: DigestServer(realm="carrier.test", secret=b"k"))

    def answer(self, act: SendRegister, now: float) -> dict[str, object]:
        if self.min_expires is not None and 0 < act.expires < self.min_expires:
            return {"status_code": 423, "min_expires": self.min_expires}
        if act.authorization is None:
            return {
                "status_code": 401,
                "www_authenticate": [v for _, v in self.server.challenge_headers(now)],
            }
        name, value = act.authorization
        assert name == "Authorization"
        res = self.server.verify(
            value, method="REGISTER", now=now, lookup=lambda u, r: self.password, request_uri=act.request_uri
        )
        if not res.ok:
            headers = self.server.challenge_headers(now, stale=res.stale)
            return {"status_code": 401, "www_authenticate": [v for _, v in headers]}
        return {"status_code": 200, "expires": self.grant if self.grant is not None else act.expires}


def client(**kw: object) -> TrunkRegistration:
    return TrunkRegistration(
        TRUNK,
        contact="<sip:duplex@192.0.2.1:5060;transport=tcp>",
        call_id="reg-1",
        rng=random.Random(7),
        **kw,
    )  # type: ignore[arg-type]


def exchange(reg: TrunkRegistration, carrier: Carrier, now: float) -> list[SendRegister]:
    """Deliver every queued REGISTER to the carrier and its response back, until nothing is queued."""
    sent = []
    while actions := reg.pop_actions():
        for act in actions:
            sent.append(act)
            reg.handle_response(now, cseq=act.cseq, **carrier.answer(act, now))  # type: ignore[arg-type]
    return sent


def test_refresh_delay() -> None:
    assert refresh_delay(3600) == 2880.0
    assert refresh_delay(120) == 90.0
    assert refresh_delay(60) == 30.0
    assert refresh_delay(20) == 10.0


def test_challenge_success_and_refresh_with_preemptive_credentials() -> None:
    reg, carrier = client(expires=600), Carrier()
    reg.start(0.0)
    sent = exchange(reg, carrier, 0.0)
    assert [a.authorization is None for a in sent] == [True, False]
    assert [a.cseq for a in sent] == [1, 2]
    first = sent[0]
    assert (first.host, first.port, first.transport) == ("sip.carrier.test", 5070, "tcp")
    assert first.request_uri == "sip:sip.carrier.test:5070;transport=tcp"
    assert first.to == "<sip:duplex@sip.carrier.test>" and first.expires == 600 and first.call_id == "reg-1"
    assert reg.state is S.REGISTERED and reg.expires_at == 600.0
    assert [(e.old, e.new) for e in reg.pop_events()] == [
        (S.UNREGISTERED, S.REGISTERING),
        (S.REGISTERING, S.REGISTERED),
    ]
    assert reg.get_timer() == 480.0

    reg.handle_timer(479.0)
    assert reg.pop_actions() == []
    reg.handle_timer(480.0)
    refresh = exchange(reg, carrier, 480.0)
    # Nonce older than the carrier's 300 s TTL: the preemptive answer is stale, so one more round trip.
    assert [a.authorization is not None for a in refresh] == [True, True]
    assert reg.state is S.REGISTERED and reg.expires_at == 1080.0
    assert reg.pop_events() == []  # a refresh of a live binding is no status change


def test_refresh_within_nonce_lifetime_takes_one_request_with_increasing_nc() -> None:
    carrier = Carrier(server=DigestServer(realm="carrier.test", secret=b"k", nonce_ttl=7200))
    reg = client(expires=600)
    reg.start(0.0)
    exchange(reg, carrier, 0.0)
    for t in (480.0, 960.0):
        reg.handle_timer(t)
        [refresh] = exchange(reg, carrier, t)
        assert refresh.authorization is not None and reg.state is S.REGISTERED
    assert "nc=00000003" in refresh.authorization[1]


def test_granted_interval_from_the_2xx_drives_the_refresh() -> None:
    reg, carrier = client(expires=3600), Carrier(grant=120)
    reg.start(0.0)
    exchange(reg, carrier, 0.0)
    assert reg.expires_at == 120.0 and reg.get_timer() == 90.0


def test_wrong_password_fails_then_retries_at_max_backoff() -> None:
    reg, carrier = client(max_backoff=300.0), Carrier(password="other")
    reg.start(0.0)
    sent = exchange(reg, carrier, 0.0)
    assert len(sent) == 2  # challenged twice without stale: no third try
    assert reg.state is S.FAILED and reg.get_timer() == 300.0
    [*_, failed] = reg.pop_events()
    assert (failed.new, failed.status_code, failed.reason, failed.retry_at) == (
        S.FAILED,
        401,
        "credentials rejected",
        300.0,
    )
    carrier.password = "s3cret"  # the operator fixes the account at the carrier
    reg.handle_timer(300.0)
    exchange(reg, carrier, 300.0)
    assert reg.state is S.REGISTERED


def test_exponential_backoff_on_timeouts_capped_and_reset_by_success() -> None:
    reg, carrier = client(base_backoff=2.0, max_backoff=30.0), Carrier()
    reg.start(0.0)
    now, delays = 0.0, []
    for _ in range(6):
        [act] = reg.pop_actions()
        reg.handle_failure(now, act.cseq, "timeout")
        assert reg.state is S.BACKOFF
        timer = reg.get_timer()
        assert timer is not None
        delays.append(timer - now)
        now = timer
        reg.handle_timer(now)
        assert reg.state is S.REGISTERING
    nominal = [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    for got, want in zip(delays, nominal, strict=True):
        assert 0.8 * want <= got <= want
    exchange(reg, carrier, now)
    assert reg.state is S.REGISTERED
    # After a success the next failure starts again from the base delay.
    t = reg.get_timer()
    assert t is not None
    reg.handle_timer(t)
    [act] = reg.pop_actions()
    reg.handle_response(t, cseq=act.cseq, status_code=503)
    retry = reg.get_timer()
    assert reg.state is S.BACKOFF and retry is not None and 1.6 <= retry - t <= 2.0


def test_no_response_at_all_times_out_by_itself() -> None:
    reg = client(request_timeout=40.0, base_backoff=2.0)
    reg.start(0.0)
    reg.pop_actions()
    assert reg.get_timer() == 40.0
    reg.handle_timer(40.0)
    assert reg.state is S.BACKOFF
    assert reg.pop_events()[-1].reason == "no response"


def test_503_retry_after_is_honoured() -> None:
    reg = client(max_backoff=300.0)
    reg.start(0.0)
    [act] = reg.pop_actions()
    reg.handle_response(1.0, cseq=act.cseq, status_code=503, retry_after=120)
    assert reg.state is S.BACKOFF and reg.get_timer() == 121.0


@pytest.mark.parametrize("status", [403, 404])
def test_permanent_refusals_go_to_failed(status: int) -> None:
    reg = client(max_backoff=300.0)
    reg.start(0.0)
    [act] = reg.pop_actions()
    reg.handle_response(0.0, cseq=act.cseq, status_code=status)
    assert reg.state is S.FAILED and reg.get_timer() == 300.0


def test_423_retries_with_min_expires() -> None:
    reg, carrier = client(expires=60), Carrier(min_expires=600)
    reg.start(0.0)
    sent = exchange(reg, carrier, 0.0)
    assert [a.expires for a in sent] == [60, 600, 600]
    assert reg.state is S.REGISTERED and reg.expires_at == 600.0


def test_stale_and_provisional_responses_are_ignored() -> None:
    reg = client()
    reg.start(0.0)
    [act] = reg.pop_actions()
    reg.handle_response(0.0, cseq=act.cseq, status_code=100)
    reg.handle_response(0.0, cseq=act.cseq + 5, status_code=200)
    reg.handle_failure(0.0, act.cseq + 5)
    assert reg.state is S.REGISTERING
    reg.handle_response(0.0, cseq=act.cseq, status_code=200)
    assert reg.state is S.REGISTERED


def test_stop_unregisters_with_expires_zero_and_answers_the_challenge() -> None:
    reg, carrier = client(), Carrier()
    reg.start(0.0)
    exchange(reg, carrier, 0.0)
    reg.pop_events()
    reg.stop(10.0)
    assert reg.state is S.UNREGISTERED
    sent = exchange(reg, carrier, 10.0)
    assert [a.expires for a in sent] == [0] and sent[0].authorization is not None
    assert reg.get_timer() is None
    [ev] = reg.pop_events()
    assert (ev.old, ev.new, ev.reason) == (S.REGISTERED, S.UNREGISTERED, "stopped")
    reg.start(20.0)
    exchange(reg, carrier, 20.0)
    assert reg.state is S.REGISTERED


def test_stop_before_start_sends_nothing_and_needs_a_username() -> None:
    reg = client()
    reg.stop(0.0)
    assert reg.pop_actions() == [] and reg.pop_events() == []
    with pytest.raises(ValueError, match="no username"):
        TrunkRegistration(
            TrunkConfig(id=1, name="x", host="h"), contact="<sip:d@h>", call_id="c", rng=random.Random(1)
        )
