"""Digest authentication against RFC 2617 §3.5 and RFC 7616 §3.9.1 vectors, plus server behaviour."""

from __future__ import annotations

from duplex.sip import DigestChallenge, DigestCredentials, DigestServer, authorize
from duplex.sip.digest import choose_challenge, digest_response, parse_auth_params

RFC7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "qop": "auth",
}


def test_rfc7616_md5_and_sha256_vectors() -> None:
    assert digest_response(algorithm="MD5", **RFC7616) == "8ca523f5e9506fed4657c9700eebdbec"
    assert digest_response(algorithm="SHA-256", **RFC7616) == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


def test_rfc2617_vector_via_client() -> None:
    challenge = DigestChallenge.parse(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    cred = authorize(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
    )
    assert cred.response == "6629fae49393a05397450978507c4ef1"
    assert cred.nc == "00000001" and cred.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert DigestCredentials.parse(str(cred)) == cred


def make_server() -> DigestServer:
    return DigestServer(realm="duplex.example", secret=b"k" * 32, nonce_ttl=60)


PASSWORDS = {("1001", "duplex.example"): "s3cret"}


def lookup(user: str, realm: str) -> str | None:
    return PASSWORDS.get((user, realm))


def test_challenge_offers_sha256_then_md5() -> None:
    headers = make_server().challenge_headers(1000.0)
    assert [n for n, _ in headers] == ["WWW-Authenticate", "WWW-Authenticate"]
    parsed = [DigestChallenge.parse(v) for _, v in headers]
    assert [c.algorithm for c in parsed] == ["SHA-256", "MD5"] and parsed[0].qop == ("auth",)
    assert choose_challenge(reversed(parsed)).algorithm == "SHA-256"
    assert make_server().challenge_headers(0.0, proxy=True)[0][0] == "Proxy-Authenticate"


def answer(server: DigestServer, now: float, nc: int = 1, password: str = "s3cret") -> str:
    challenge = server.challenges(now)[0]
    return str(authorize(challenge, username="1001", password=password, method="REGISTER",
                         uri="sip:duplex.example", cnonce="abc", nc=nc))  # fmt: skip


def test_verify_ok_wrong_password_and_replay() -> None:
    server = make_server()
    auth = answer(server, 1000.0)
    assert server.verify(
        auth, method="REGISTER", now=1001.0, lookup=lookup, request_uri="sip:duplex.example"
    ).ok
    replay = server.verify(auth, method="REGISTER", now=1002.0, lookup=lookup)
    assert not replay.ok and "replayed" in replay.reason
    assert not server.verify(
        answer(server, 1000.0, password="nope"), method="REGISTER", now=1001.0, lookup=lookup
    ).ok
    assert not server.verify(auth, method="INVITE", now=1001.0, lookup=lookup).ok


def test_nonce_count_must_increase() -> None:
    server = make_server()
    challenge = server.challenges(1000.0)[1]
    for nc, expected in [(1, True), (3, True), (2, False), (4, True)]:
        cred = authorize(challenge, username="1001", password="s3cret", method="OPTIONS", uri="sip:x", cnonce="c",
                         nc=nc)  # fmt: skip
        assert server.verify(str(cred), method="OPTIONS", now=1001.0, lookup=lookup).ok is expected


def test_expired_nonce_is_stale_only_with_right_digest() -> None:
    server = make_server()
    result = server.verify(answer(server, 1000.0), method="REGISTER", now=1100.0, lookup=lookup)
    assert not result.ok and result.stale
    wrong = server.verify(answer(server, 1000.0, password="x"), method="REGISTER", now=1100.0, lookup=lookup)
    assert not wrong.ok and not wrong.stale
    assert DigestChallenge.parse(str(server.challenges(1100.0, stale=True)[0])).stale


def test_forged_nonce_and_other_realm_rejected() -> None:
    server = make_server()
    other = DigestServer(realm="duplex.example", secret=b"other-secret", nonce_ttl=60)
    assert not server.verify(answer(other, 1000.0), method="REGISTER", now=1000.0, lookup=lookup).ok
    scheme, params = parse_auth_params('Digest realm="a,b", nonce=x')
    assert scheme == "Digest" and params == {"realm": "a,b", "nonce": "x"}
    assert not server.verify("Basic Zm9v", method="REGISTER", now=0.0, lookup=lookup).ok
