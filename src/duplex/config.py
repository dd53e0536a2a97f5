"""One settings object, read from `duplex.toml` and `DUPLEX_*` environment variables.

Precedence (highest first): explicit keyword arguments (the CLI flags), environment variables, the TOML file,
defaults. The TOML file is `./duplex.toml` unless `DUPLEX_CONFIG` names another.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Everything an operator can set. Each field is also `DUPLEX_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="DUPLEX_", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Recordings, prompts, exports, the SQLite file.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite at <data_dir>/duplex.db.")
    http_host: str = Field("0.0.0.0", description="Address the web UI and API listen on.")
    http_port: int = Field(8080, ge=0, le=65535, description="Port of the web UI and API.")
    http_certfile: str = Field(
        "",
        description="PEM certificate (chain) to serve the web UI and API over HTTPS; empty means plain HTTP. A "
        "browser agent on another host needs HTTPS: browsers give microphones only to secure pages (https, or "
        "http on localhost). Use it with sip_wss_certfile, since an https page may only open wss.",
    )
    http_keyfile: str = Field("", description="PEM key for HTTPS; empty means it is in http_certfile.")
    sip_host: str = Field("0.0.0.0", description="Address SIP listens on (UDP and TCP).")
    sip_port: int = Field(5060, ge=0, le=65535, description="SIP port (UDP and TCP).")
    sip_enabled: bool = Field(True, description="Start the SIP engine with the server.")
    sip_ws_enabled: bool = Field(
        False, description="Accept SIP over WebSocket (RFC 7118) for browser agents."
    )
    sip_ws_port: int = Field(5066, ge=0, le=65535, description="SIP WebSocket port (on sip_host, path any).")
    sip_wss_certfile: str = Field("", description="PEM certificate (chain) for WSS; empty means plain WS.")
    sip_wss_keyfile: str = Field("", description="PEM key for WSS; empty means it is in sip_wss_certfile.")
    sip_tls_enabled: bool = Field(
        False, description="Accept SIP over TLS (RFC 3261 §26, sips:) on sip_tls_port."
    )
    sip_tls_port: int = Field(5061, ge=0, le=65535, description="SIP TLS port (on sip_host).")
    sip_tls_certfile: str = Field(
        "", description="PEM certificate (chain) for SIP TLS; empty means a self-signed one in data_dir/tls."
    )
    sip_tls_keyfile: str = Field(
        "", description="PEM key for SIP TLS; empty means it is in sip_tls_certfile."
    )
    sip_tls_cafile: str = Field(
        "", description="CA bundle trusted for TLS to trunks; empty means the system's."
    )
    sip_tls_verify: bool = Field(
        True, description="Verify trunk certificates (host name and chain) over TLS."
    )
    public_ip: str = Field("127.0.0.1", description="Address written into SDP and Contact headers.")
    sip_realm: str = Field("duplex", description="Digest authentication realm for phones.")
    rtp_port_min: int = Field(20000, ge=1024, le=65535, description="Lowest RTP port.")
    rtp_port_max: int = Field(30000, ge=1024, le=65535, description="Highest RTP port.")
    rtp_timeout_seconds: float = Field(
        60.0, ge=0, description="Hang up an answered leg that received no RTP for this long (0: never)."
    )
    media_backend: Literal["local", "rtpengine"] = Field(
        "local", description="Who relays RTP: Duplex in process (local) or rtpengine over its ng protocol."
    )
    media_rtpengine_ng: str = Field(
        "127.0.0.1:2223", description="rtpengine's --listen-ng (host:port) when media_backend is rtpengine."
    )
    media_rtpengine_webrtc: bool = Field(
        True,
        description="With media_backend rtpengine, browser (WebRTC) legs are relayed by rtpengine too (its "
        "ICE and DTLS-SRTP); false keeps them in process (aiortc) as with the local backend.",
    )
    media_rtpengine_inject_dtmf: bool = Field(
        False,
        description="With media_backend rtpengine, rtpengine sends the DTMF Duplex plays to a bridged leg "
        "(a browser's keypad, SIP INFO, to the caller as RFC 4733); it then runs codec handlers on all legs.",
    )
    media_rtpengine_stats_interval: float = Field(
        0.0,
        ge=0,
        description="Seconds between rtpengine counter queries per leg (live stats); 0: a quarter of "
        "rtp_timeout_seconds (the RTP timeout reads them), or only at hangup when that is 0 too.",
    )
    recording_retention_days: int = Field(
        0, ge=0, description="Delete call recordings (files and rows) older than this many days (0: keep)."
    )
    blend_reserve_free_agents: int = Field(
        1, ge=0, description="Free agents campaigns may not borrow: kept for the next inbound call."
    )
    blend_min_service_level: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Campaigns borrow no agent while the inbound service level is under this.",
    )
    secret_key: str = Field(
        "", description="Signs tokens; empty means one is generated and kept in data_dir."
    )
    token_ttl_seconds: int = Field(8 * 3600, gt=0, description="Lifetime of a login bearer token.")
    nats_url: str = Field("", description="NATS JetStream URL for the event bus; empty means in-process.")
    node_id: str = Field("node1", description="This node's name; event sequences are per node.")
    login_max_failures: int = Field(5, gt=0, description="Failed logins before throttling a user/address.")
    login_lockout_seconds: int = Field(300, gt=0, description="How long a throttled login stays locked.")
    log_level: str = Field("INFO", description="Python logging level.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("DUPLEX_CONFIG", "duplex.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'duplex.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        for sub in ("", "recordings", "prompts", "exports"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def effective_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in `<data_dir>/secret.key`."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret.key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(**overrides: Any) -> Settings:
    """Settings from file and environment, with `overrides` (CLI flags) on top; None values are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
