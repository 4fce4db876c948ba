"""The vendor products each category can be wired to, and how one is opened from the environment.

`ESCALATION_<CATEGORY>` names the product (see `server.settings`); the product's own
settings come from variables under its prefix (`ESCALATION_ZENDESK_TOKEN`, ...). Modules are
imported only when chosen, so an unused vendor costs nothing at startup.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors import CRM, Category, Chat, KnowledgeBase, SupportPlatform, Tracker

if TYPE_CHECKING:
    import httpx  # only vendor adapters need it at run time; the start-up check of an all-local setup does not

Adapter = SupportPlatform | CRM | Chat | Tracker | KnowledgeBase


class VendorSettings(BaseSettings):
    """A vendor's configuration; each subclass sets `env_prefix` to `ESCALATION_<PRODUCT>_`."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @classmethod
    def variable(cls, field: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    # Every secret of every product, checked once here: an empty or space-padded token otherwise reaches the
    # vendor as a malformed header and comes back as "could not reach host", which sends people the wrong way.
    @field_validator("*")
    @classmethod
    def _secret_is_clean(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if not secret.strip():
                raise ValueError("it is empty; set it to the token or key itself")
            if secret != secret.strip():
                raise ValueError("it has spaces or a line break around the value; remove them")
        return value


def subdomain_of(value: str, domain: str) -> str:
    """`acme` from `acme`, `acme.<domain>` or a whole URL on it; ValueError for anything else."""
    bare = re.sub(r"^https?://", "", value.strip()).split("/")[0].removesuffix(f".{domain}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", bare):
        raise ValueError(f"expected the subdomain only, like `acme` for acme.{domain}")
    return bare


class ConfigError(ValueError):
    """A chosen product cannot be opened as configured; the message names the variables to set."""


@dataclass(frozen=True)
class Product:
    name: str  # the value of ESCALATION_<CATEGORY>
    title: str
    category: Category
    module: str  # holds SETTINGS (a VendorSettings subclass) and ADAPTER (built from it)

    def settings_type(self) -> type[VendorSettings]:
        settings: type[VendorSettings] = importlib.import_module(self.module).SETTINGS
        return settings


PRODUCTS: tuple[Product, ...] = (
    Product("intercom", "Intercom", "support", "connectors.vendors.intercom"),
    Product("zendesk", "Zendesk", "support", "connectors.vendors.zendesk"),
    Product("freshdesk", "Freshdesk", "support", "connectors.vendors.freshdesk"),
    Product("hubspot", "HubSpot", "crm", "connectors.vendors.hubspot"),
    Product("salesforce", "Salesforce", "crm", "connectors.vendors.salesforce"),
    Product("slack", "Slack", "chat", "connectors.vendors.slack"),
    Product("teams", "Microsoft Teams", "chat", "connectors.vendors.teams"),
    Product("jira", "Jira Cloud", "tracker", "connectors.vendors.jira"),
    Product("linear", "Linear", "tracker", "connectors.vendors.linear"),
    Product("notion", "Notion", "knowledge", "connectors.vendors.notion"),
    Product("confluence", "Confluence", "knowledge", "connectors.vendors.confluence"),
    Product("guru", "Guru", "knowledge", "connectors.vendors.guru"),
)


def find_product(name: str) -> Product:
    for product in PRODUCTS:
        if product.name == name:
            return product
    raise ConfigError(f"unknown product {name!r}; known: {', '.join(p.name for p in PRODUCTS)}")


def load_settings(settings_type: type[VendorSettings], **given: Any) -> VendorSettings:
    """The product's settings from the environment (or `given`); ConfigError names each variable at fault."""
    try:
        return settings_type(**given)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors():
            if not error["loc"]:  # a rule across fields, which names its variables itself
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            message = str(error["msg"]).removeprefix("Value error, ")
            what = "is not set" if error["type"] == "missing" else f"is invalid: {message}"
            problems.append(f"{settings_type.variable(str(error['loc'][0]))} {what}")
        raise ConfigError("; ".join(problems)) from None


def open_product(product: Product, *, transport: httpx.AsyncBaseTransport | None = None) -> Adapter:
    """The product's adapter, configured from the environment."""
    settings = load_settings(product.settings_type())
    adapter: Adapter = importlib.import_module(product.module).ADAPTER(settings, transport=transport)
    return adapter
