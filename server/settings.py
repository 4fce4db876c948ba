"""Settings from the environment (prefix ESCALATION_); with none set, the embedded defaults run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_path
from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Each category's product: the embedded workspace, nothing, or a vendor (see CONNECTORS.md).
SupportChoice = Literal["local", "none", "intercom", "zendesk", "freshdesk"]
CrmChoice = Literal["local", "none", "hubspot", "salesforce"]
ChatChoice = Literal["local", "none", "slack", "teams"]
TrackerChoice = Literal["local", "none", "jira", "linear"]
KnowledgeChoice = Literal["local", "none", "notion", "confluence", "guru"]


def _comma_separated(value: object) -> object:
    # A comma-separated variable reads better in a unit file than the JSON list pydantic-settings expects.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)]


def default_ledger_path() -> Path:
    return user_data_path("escalation-mcp", appauthor=False) / "ledger.db"


class Settings(BaseSettings):
    """Every option; the README's table lists them with their variables."""

    model_config = SettingsConfigDict(env_prefix="ESCALATION_", extra="ignore")

    workspace_path: Path | None = Field(
        default=None, description="Workspace JSON file for the local adapter; the embedded demo when unset."
    )
    ledger_path: Path = Field(default_factory=default_ledger_path, description="SQLite file of the ledger.")

    support: SupportChoice = "local"
    crm: CrmChoice = "local"
    chat: ChatChoice = "local"
    tracker: TrackerChoice = "local"
    knowledge: KnowledgeChoice = "local"

    source_timeout: float = Field(default=5.0, gt=0, le=120, description="Seconds each source gets per call.")
    high_value_arr: float = Field(default=100_000, ge=0, description="ARR (USD) from which a customer is high-value.")
    default_timezone: str = Field(default="UTC", description="Time zone when neither caller nor CRM gives one.")
    default_country: str | None = Field(default=None, description="Holiday calendar when the CRM gives none.")
    business_hours_start: int = Field(default=9, ge=0, le=23)
    business_hours_end: int = Field(default=17, ge=1, le=24)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    @model_validator(mode="after")
    def _hours_make_a_day(self) -> Settings:
        if self.business_hours_start >= self.business_hours_end:
            raise ValueError("ESCALATION_BUSINESS_HOURS_START must be earlier than ESCALATION_BUSINESS_HOURS_END")
        return self

    # Streamable HTTP access (server/http_auth.py; README "Deployment").
    http_token: SecretStr | None = Field(
        default=None, description="Static bearer token every HTTP client must send (one of the two auth modes)."
    )
    http_allowed_hosts: CommaList = Field(
        default_factory=list[str], description="Host header values accepted besides loopback (host or host:port)."
    )
    http_allowed_origins: CommaList = Field(
        default_factory=list[str], description="Origin header values accepted besides loopback (scheme://host[:port])."
    )
    http_resource_url: str | None = Field(
        default=None, description="Public URL of the MCP endpoint (https://.../mcp): the audience tokens must name."
    )
    auth_issuer: str | None = Field(
        default=None, description="OAuth issuer whose JWT access tokens are accepted (the other auth mode)."
    )
    auth_jwks_url: str | None = Field(default=None, description="The issuer's JWKS URL (its signing keys).")
    auth_read_scope: str = Field(default="escalations:read", description="Scope every call needs.")
    auth_write_scope: str = Field(default="escalations:write", description="Scope the write tools also need.")
    auth_team_claim: str | None = Field(default=None, description="Token claim naming the caller's team.")
    auth_leeway: float = Field(default=30, ge=0, le=300, description="Seconds of clock skew allowed on exp and nbf.")
