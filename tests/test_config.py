"""Settings precedence: flags > DUPLEX_* environment > duplex.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from duplex.config import Settings, load_settings


@pytest.fixture
def toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "duplex.toml"
    path.write_text('http_port = 9090\nsip_port = 5070\npublic_ip = "192.0.2.10"\nnode_id = "from-toml"\n')
    monkeypatch.setenv("DUPLEX_CONFIG", str(path))
    for name in (
        "DUPLEX_HTTP_PORT",
        "DUPLEX_SIP_PORT",
        "DUPLEX_PUBLIC_IP",
        "DUPLEX_NODE_ID",
        "DUPLEX_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return path


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUPLEX_CONFIG", str(tmp_path / "missing.toml"))
    settings = Settings()
    assert (settings.http_port, settings.sip_port, settings.nats_url) == (8080, 5060, "")
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("/data/duplex.db")


def test_toml_then_env_then_flags(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().http_port, Settings().public_ip) == (9090, "192.0.2.10")
    monkeypatch.setenv("DUPLEX_HTTP_PORT", "9191")
    assert Settings().http_port == 9191
    assert Settings().sip_port == 5070  # still from the file
    flags = load_settings(http_port=9292, sip_port=None)  # None = flag not given
    assert (flags.http_port, flags.sip_port) == (9292, 5070)


def test_bad_values_name_the_setting(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUPLEX_HTTP_PORT", "eighty")
    with pytest.raises(ValidationError, match="http_port"):
        Settings()


def test_generated_secret_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = settings.effective_secret_key()
    assert len(first) > 40
    assert Settings(data_dir=tmp_path / "d").effective_secret_key() == first
    assert oct((tmp_path / "d" / "secret.key").stat().st_mode & 0o777) == "0o600"
