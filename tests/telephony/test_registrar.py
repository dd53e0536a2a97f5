"""Registrar rules of RFC 3261 §10.3 with a plain float clock."""

from __future__ import annotations

import pytest

from duplex.telephony.registrar import (
    ChangeKind,
    ContactSpec,
    RegisterRequest,
    Registrar,
    RegistrarConfig,
    Source,
    contact_key,
    parse_contact_header,
)

AOR = "sip:alice@duplex.test"
SRC = Source(transport="udp", host="203.0.113.7", port=40123)


def req(*contacts: ContactSpec, call_id: str = "c1", cseq: int = 1, expires: int | None = None, **kw: object):
    return RegisterRequest(
        aor=kw.pop("aor", AOR),  # type: ignore[arg-type]
        call_id=call_id,
        cseq=cseq,
        source=kw.pop("source", SRC),  # type: ignore[arg-type]
        contacts=contacts,
        expires=expires,
        **kw,  # type: ignore[arg-type]
    )


def c(uri: str = "sip:alice@192.168.1.10:5060", **kw: object) -> ContactSpec:
    return ContactSpec(uri=uri, **kw)  # type: ignore[arg-type]


def test_register_then_lookup_until_expiry() -> None:
    r = Registrar()
    res = r.register(req(c(), expires=120), now=1000.0)
    assert res.status_code == 200
    assert res.contacts == ("<sip:alice@192.168.1.10:5060>;expires=120",)
    [b] = r.lookup(AOR, 1000.0)
    assert b.expires_at == 1120.0 and b.source == SRC and b.call_id == "c1" and b.cseq == 1
    assert r.get_timer() == 1120.0
    changes = r.pop_changes()
    assert [(ch.kind, ch.binding.contact) for ch in changes] == [
        (ChangeKind.ADDED, "sip:alice@192.168.1.10:5060")
    ]
    assert r.pop_changes() == []
    assert len(r.lookup(AOR, 1119.9)) == 1
    assert r.lookup(AOR, 1120.0) == []  # dead at the deadline even before the timer ran
    r.handle_timer(1120.0)
    [gone] = r.pop_changes()
    assert gone.kind is ChangeKind.REMOVED and gone.reason == "expired"
    assert r.get_timer() is None and list(r.bindings()) == []


def test_contact_expires_param_beats_header_and_default_applies() -> None:
    r = Registrar(RegistrarConfig(default_expires=1800))
    r.register(req(c("sip:a@h1", expires=300), c("sip:a@h2"), expires=600), now=0.0)
    assert sorted(b.expires_at for b in r.lookup(AOR, 0.0)) == [300.0, 600.0]
    r.register(req(c("sip:a@h3"), call_id="other"), now=0.0)
    assert {b.contact: b.expires_at for b in r.lookup(AOR, 0.0)}["sip:a@h3"] == 1800.0


def test_too_brief_interval_gets_423_with_min_expires_and_changes_nothing() -> None:
    r = Registrar(RegistrarConfig(min_expires=60))
    res = r.register(req(c(), expires=59), now=0.0)
    assert (res.status_code, res.min_expires) == (423, 60)
    assert list(r.bindings()) == [] and r.pop_changes() == []
    assert r.register(req(c(), expires=60), now=0.0).status_code == 200


def test_long_interval_is_clamped_to_max_expires() -> None:
    r = Registrar(RegistrarConfig(max_expires=900))
    res = r.register(req(c(), expires=86400), now=10.0)
    assert res.contacts == ("<sip:alice@192.168.1.10:5060>;expires=900",)
    assert r.lookup(AOR, 10.0)[0].expires_at == 910.0


def test_refresh_same_call_id_higher_cseq_updates() -> None:
    r = Registrar()
    r.register(req(c(), cseq=1, expires=100), now=0.0)
    r.pop_changes()
    new_src = Source(transport="udp", host="203.0.113.7", port=50000)
    assert r.register(req(c(), cseq=2, expires=100, source=new_src), now=50.0).status_code == 200
    [b] = r.lookup(AOR, 50.0)
    assert (b.expires_at, b.cseq, b.source) == (150.0, 2, new_src)
    assert [ch.kind for ch in r.pop_changes()] == [ChangeKind.REFRESHED]


@pytest.mark.parametrize("cseq", [1, 2])
def test_same_call_id_lower_or_equal_cseq_fails_500_and_keeps_binding(cseq: int) -> None:
    r = Registrar()
    r.register(req(c(), cseq=2, expires=100), now=0.0)
    r.pop_changes()
    res = r.register(req(c(), cseq=cseq, expires=0), now=10.0)
    assert res.status_code == 500
    assert len(r.lookup(AOR, 10.0)) == 1 and r.pop_changes() == []


def test_different_call_id_updates_regardless_of_cseq() -> None:
    r = Registrar()
    r.register(req(c(), call_id="boot1", cseq=50, expires=100), now=0.0)
    assert r.register(req(c(), call_id="boot2", cseq=1, expires=300), now=1.0).status_code == 200
    assert r.lookup(AOR, 1.0)[0].call_id == "boot2"


def test_all_or_nothing_when_one_contact_is_out_of_order() -> None:
    r = Registrar()
    r.register(req(c("sip:a@h1"), cseq=5, expires=100), now=0.0)
    r.pop_changes()
    res = r.register(req(c("sip:a@h2"), c("sip:a@h1"), cseq=4, expires=100), now=1.0)
    assert res.status_code == 500
    assert [b.contact for b in r.lookup(AOR, 1.0)] == ["sip:a@h1"]


def test_expires_zero_removes_one_contact() -> None:
    r = Registrar()
    r.register(req(c("sip:a@h1"), c("sip:a@h2"), cseq=1, expires=100), now=0.0)
    r.pop_changes()
    res = r.register(req(c("sip:a@h1", expires=0), cseq=2), now=1.0)
    assert res.status_code == 200 and res.contacts == ("<sip:a@h2>;expires=99",)
    [ch] = r.pop_changes()
    assert (ch.kind, ch.binding.contact, ch.reason) == (ChangeKind.REMOVED, "sip:a@h1", "unregistered")


def test_star_with_expires_zero_removes_all() -> None:
    r = Registrar()
    r.register(req(c("sip:a@h1"), c("sip:a@h2"), cseq=1, expires=100), now=0.0)
    r.pop_changes()
    res = r.register(
        RegisterRequest(aor=AOR, call_id="c1", cseq=2, source=SRC, star=True, expires=0), now=1.0
    )
    assert res.status_code == 200 and res.contacts == ()
    assert sorted(ch.binding.contact for ch in r.pop_changes() if ch.kind is ChangeKind.REMOVED) == [
        "sip:a@h1",
        "sip:a@h2",
    ]
    assert r.lookup(AOR, 1.0) == []


@pytest.mark.parametrize(
    ("expires", "contacts"),
    [(None, ()), (3600, ()), (0, (ContactSpec(uri="sip:a@h1"),))],
)
def test_star_needs_expires_zero_and_no_other_contact(
    expires: int | None, contacts: tuple[ContactSpec, ...]
) -> None:
    r = Registrar()
    r.register(req(c("sip:a@h1"), expires=100), now=0.0)
    bad = RegisterRequest(
        aor=AOR, call_id="c1", cseq=2, source=SRC, star=True, expires=expires, contacts=contacts
    )
    assert r.register(bad, now=1.0).status_code == 400
    assert len(r.lookup(AOR, 1.0)) == 1


def test_star_with_stale_cseq_fails() -> None:
    r = Registrar()
    r.register(req(c(), cseq=3, expires=100), now=0.0)
    bad = RegisterRequest(aor=AOR, call_id="c1", cseq=3, source=SRC, star=True, expires=0)
    assert r.register(bad, now=1.0).status_code == 500
    assert len(r.lookup(AOR, 1.0)) == 1


def test_lookup_orders_by_q_then_most_recent() -> None:
    r = Registrar()
    r.register(req(c("sip:a@low", q=0.1), c("sip:a@old", q=0.9), cseq=1, expires=600), now=0.0)
    r.register(req(c("sip:a@new", q=0.9), call_id="c2", cseq=1, expires=600), now=5.0)
    r.register(req(c("sip:a@default"), call_id="c3", cseq=1, expires=600), now=1.0)
    assert [b.contact for b in r.lookup(AOR, 6.0)] == ["sip:a@default", "sip:a@new", "sip:a@old", "sip:a@low"]
    ok = r.register(req(c("sip:a@low", q=0.1), cseq=2, expires=600), now=7.0)
    assert "<sip:a@low>;expires=600;q=0.1" in ok.contacts


def test_contact_limit_evicts_least_recently_refreshed() -> None:
    r = Registrar(RegistrarConfig(max_contacts=2))
    r.register(req(c("sip:a@h1"), call_id="x1", expires=600), now=0.0)
    r.register(req(c("sip:a@h2"), call_id="x2", expires=600), now=1.0)
    r.pop_changes()
    r.register(req(c("sip:a@h3"), call_id="x3", expires=600), now=2.0)
    assert sorted(b.contact for b in r.lookup(AOR, 2.0)) == ["sip:a@h2", "sip:a@h3"]
    kinds = [(ch.kind, ch.binding.contact, ch.reason) for ch in r.pop_changes()]
    assert kinds == [(ChangeKind.ADDED, "sip:a@h3", ""), (ChangeKind.REMOVED, "sip:a@h1", "evicted")]
    too_many = r.register(
        req(c("sip:a@h4"), c("sip:a@h5"), c("sip:a@h6"), call_id="x4", expires=600), now=3.0
    )
    assert too_many.status_code == 403


def test_uri_comparison_rules_find_the_same_binding() -> None:
    assert contact_key("sip:alice@EXAMPLE.com;transport=UDP;ob") == contact_key(
        "SIP:alice@example.com;transport=udp"
    )
    assert contact_key("sip:Alice@example.com") != contact_key("sip:alice@example.com")
    assert contact_key("sip:a@h") != contact_key("sip:a@h:5060")
    r = Registrar()
    r.register(req(c("sip:a@HOST.example;transport=tcp"), cseq=1, expires=100), now=0.0)
    r.register(req(c("sip:a@host.example;transport=TCP"), cseq=2, expires=200), now=0.0)
    [b] = r.lookup(AOR, 0.0)
    assert b.contact == "sip:a@HOST.example;transport=tcp" and b.expires_at == 200.0


def test_aors_are_independent() -> None:
    r = Registrar()
    r.register(req(c("sip:a@h1"), expires=100), now=0.0)
    r.register(req(c("sip:b@h1"), aor="sip:bob@duplex.test", expires=100), now=0.0)
    assert [b.aor for b in r.lookup("sip:bob@duplex.test", 0.0)] == ["sip:bob@duplex.test"]
    assert r.lookup("sip:nobody@duplex.test", 0.0) == []


def test_restore_skips_expired() -> None:
    r = Registrar()
    r.register(req(c("sip:a@h1"), expires=100), now=0.0)
    r.register(req(c("sip:a@h2"), call_id="c2", expires=300), now=0.0)
    saved = list(r.bindings())
    fresh = Registrar()
    fresh.restore(saved, now=150.0)
    assert [b.contact for b in fresh.lookup(AOR, 150.0)] == ["sip:a@h2"] and fresh.pop_changes() == []


@pytest.mark.parametrize(
    ("value", "star", "expected"),
    [
        ("*", True, []),
        ("<sip:a@h>;expires=60;q=0.5", False, [ContactSpec(uri="sip:a@h", expires=60, q=0.5)]),
        ("sip:a@h;expires=0", False, [ContactSpec(uri="sip:a@h", expires=0)]),
        (
            '"Agent, One" <sip:a@h;transport=tcp>, <sip:a@[2001:db8::1]:5062>;q=1.0',
            False,
            [ContactSpec(uri="sip:a@h;transport=tcp"), ContactSpec(uri="sip:a@[2001:db8::1]:5062", q=1.0)],
        ),
        ('"x\\"y" <sip:a@h>;+sip.instance="<urn:uuid:1>"', False, [ContactSpec(uri="sip:a@h")]),
    ],
)
def test_parse_contact_header(value: str, star: bool, expected: list[ContactSpec]) -> None:
    assert parse_contact_header(value) == (star, expected)


@pytest.mark.parametrize(
    "value", ["", "<sip:a@h>;expires=-1", "<sip:a@h>;q=1.5", "nocolon", "<sip:a@h>, ", ">sip:a@h<"]
)
def test_parse_contact_header_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        parse_contact_header(value)


@pytest.mark.parametrize("text", ["udp:203.0.113.7:5060", "tcp:[2001:db8::5]:5061", "wss:pbx.example:443"])
def test_source_round_trip(text: str) -> None:
    assert str(Source.parse(text)) == text


def test_bad_requests_get_400() -> None:
    r = Registrar()
    assert r.register(req(c(), expires=-5), now=0.0).status_code == 400
    assert r.register(req(c(), call_id=""), now=0.0).status_code == 400
    assert r.register(req(c("sip:" + "a" * 600 + "@h")), now=0.0).status_code == 400
    assert list(r.bindings()) == []
