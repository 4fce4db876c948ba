"""Settings from the environment (prefix ESCALATION_); with none set, the embedded defaults run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Each category's product: the embedded workspace, nothing, or a vendor (see CONNECTORS.md).
SupportChoice = Literal["local", "none", "intercom", "zendesk", "freshdesk"]
CrmChoice = Literal["local", "none", "hubspot", "salesforce"]
ChatChoice = Literal["local", "none", "slack", "teams"]
TrackerChoice = Literal["local", "none", "jira", "linear"]
KnowledgeChoice = Literal["local", "none", "notion", "confluence", "guru"]


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
