"""Settings from the environment (prefix ESCALATION_); with none set, the embedded defaults run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.models import Target

if TYPE_CHECKING:
    from server.patterns import PatternConfig

# Each category's product: the embedded workspace, nothing, or a vendor (see CONNECTORS.md).
SupportChoice = Literal["local", "none", "intercom", "zendesk", "freshdesk"]
CrmChoice = Literal["local", "none", "hubspot", "salesforce"]
ChatChoice = Literal["local", "none", "slack", "teams"]
TrackerChoice = Literal["local", "none", "jira", "linear"]
KnowledgeChoice = Literal["local", "none", "notion", "confluence", "guru"]


def known_timezone(name: str) -> str:
    """`name` when it is an IANA time zone; ValueError saying what to write instead."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Linux looks zones up case-sensitively and macOS does not: name the exact spelling when only case differs.
        near = [zone for zone in available_timezones() if zone.lower() == name.strip().lower()]
        hint = f"did you mean {near[0]!r}?" if near else "use an IANA name such as 'America/New_York' or 'Asia/Seoul'"
        raise ValueError(f"unknown time zone {name!r}: {hint}") from None
    return name


def known_country(code: str) -> str:
    """The upper-case ISO code when the `holidays` package has a calendar for it; ValueError otherwise."""
    import holidays  # only when a country is set: the package costs a third of a second to import

    upper = code.strip().upper()
    try:
        holidays.country_holidays(upper)
    except NotImplementedError:
        raise ValueError(
            f"no public-holiday calendar for {code!r}: use an ISO 3166 code such as 'US', 'DE', 'KR' or 'JP', "
            "or unset it for no holidays"
        ) from None
    return upper


def _comma_separated(value: object) -> object:
    # A comma-separated variable reads better in a unit file than the JSON list pydantic-settings expects.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)]


def default_ledger_path() -> Path:
    from platformdirs import user_data_path  # only when ESCALATION_LEDGER_PATH is unset

    return user_data_path("escalation-mcp", appauthor=False) / "ledger.db"


class Settings(BaseSettings):
    """Every option; the README's table lists them with their variables."""

    model_config = SettingsConfigDict(env_prefix="ESCALATION_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="postgresql://... moves the ledger to PostgreSQL; the SQLite file otherwise."
    )
    channels: dict[Target, str] = Field(
        default_factory=dict[Target, str],
        description='Chat channel per target, JSON: {"engineering": "#eng-escalations", ...}.',
    )
    writes: bool = Field(default=False, description="Register the write tools (post_brief, ...); off by default.")
    tracker_projects: dict[Target, str] = Field(
        default_factory=dict[Target, str],
        description='Tracker project per target, JSON: {"engineering": "ENG", "product": "PROD"}.',
    )
    workspace_path: Path | None = Field(
        default=None, description="Workspace JSON file for the local adapter; the embedded demo when unset."
    )
    ledger_path: Path = Field(default_factory=default_ledger_path, description="SQLite file of the ledger.")

    support: SupportChoice = "local"
    crm: CrmChoice = "local"
    chat: ChatChoice = "local"
    tracker: TrackerChoice = "local"
    knowledge: KnowledgeChoice = "local"

    answer_budget_tokens: int = Field(
        default=20_000, ge=2_000, le=200_000, description="Largest tool answer, in tokens (about 4 characters)."
    )
    source_timeout: float = Field(default=5.0, gt=0, le=120, description="Seconds each source gets per call.")
    high_value_arr: float = Field(default=100_000, ge=0, description="ARR (USD) from which a customer is high-value.")
    default_timezone: str = Field(default="UTC", description="Time zone when neither caller nor CRM gives one.")
    team_timezone: str | None = Field(default=None, description="The team's zone for internal follow-ups.")
    critical_customers: int = Field(
        default=10, ge=2, le=1_000_000, description="Customers blocked that make it critical."
    )
    default_country: str | None = Field(default=None, description="Holiday calendar when the CRM gives none.")
    lockdown: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), description="Sources whose outsider text is withheld, only metadata shown."
    )
    redact_context: bool = Field(default=False, description="Redact private data in what gather_context returns.")
    pattern_customers: int = Field(
        default=3, ge=1, le=1000, description="Distinct customers reporting one problem that make it a pattern."
    )
    pattern_similarity: float = Field(
        default=0.30, ge=0, le=1, description="n-gram cosine a report needs when the lexicon knows the issue's words."
    )
    pattern_scan: int = Field(
        default=500, ge=0, le=100_000, description="Newest tickets in the window read whatever their wording."
    )
    business_hours_start: int = Field(default=9, ge=0, le=23)
    business_hours_end: int = Field(default=17, ge=1, le=24)

    # Checked here, at start-up, so a typo fails before serving instead of at the first follow-up scheduled.
    @field_validator("workspace_path", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        """`~/ws.json` as typed into a client's JSON config, where no shell expands it; blank means unset."""
        if isinstance(value, str):
            return Path(value.strip()).expanduser() if value.strip() else None
        return value

    @field_validator("workspace_path")
    @classmethod
    def _workspace_is_a_file(cls, value: Path | None) -> Path | None:
        if value is None or value.is_file():
            return value
        what = "is a folder" if value.is_dir() else "does not exist"
        raise ValueError(
            f"{str(value)!r} {what}: point it at a workspace JSON file (format: connectors/workspace.py), "
            "or unset it to use the embedded demo workspace"
        )

    @field_validator("lockdown", mode="before")
    @classmethod
    def _lockdown_sources(cls, value: object) -> object:
        if not isinstance(value, str):  # the default too (settings validate defaults): nothing to parse
            return value
        from server.untrusted import lockdown_sources  # only when set: the sanitizer costs 7 ms to import

        return lockdown_sources(value)

    @field_validator("default_timezone", "team_timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return None if value is None else known_timezone(value)

    @field_validator("default_country", mode="before")
    @classmethod
    def _known_country(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return known_country(value) if value.strip() else None  # an empty variable means "no holidays"

    def patterns(self) -> PatternConfig:
        """The related-reports thresholds these settings choose (see server.patterns.PatternConfig)."""
        from server.patterns import PatternConfig

        return PatternConfig(
            min_customers=self.pattern_customers, min_cosine=self.pattern_similarity, browse_budget=self.pattern_scan
        )

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
