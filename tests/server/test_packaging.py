"""What installers and the MCP registry read: server.json, the README's registry marker and client snippets,
the licence file and the package metadata agree with each other and with the code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import typing
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
CHECKOUT_PLACEHOLDER = "/path/to/escalation-mcp"


def load(name: str) -> Any:
    return json.loads((ROOT / name).read_text("utf-8"))


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def readme() -> str:
    return (ROOT / "README.md").read_text("utf-8")


def test_server_json_has_the_registrys_required_fields_in_their_published_shape():
    server = load("server.json")

    assert server["$schema"] == SCHEMA
    assert re.fullmatch(r"io\.github\.[A-Za-z0-9-]+/escalation-mcp", server["name"])
    assert 1 <= len(server["description"]) <= 100
    assert server["repository"]["source"] == "github"
    [package] = server["packages"]
    assert {k: package[k] for k in ("registryType", "registryBaseUrl", "identifier", "runtimeHint", "transport")} == {
        "registryType": "pypi",
        "registryBaseUrl": "https://pypi.org",
        "identifier": project()["name"],
        "runtimeHint": "uvx",
        "transport": {"type": "stdio"},
    }
    for variable in package["environmentVariables"]:
        assert set(variable) <= {"name", "description", "format", "isRequired", "isSecret", "default", "choices"}
        assert variable["description"]
        assert variable.get("format", "string") in ("string", "number", "boolean", "filepath")
        assert variable["isRequired"] is False, "with nothing set the server runs on the embedded workspace"


def test_server_json_version_is_the_package_version():
    server = load("server.json")

    assert server["version"] == server["packages"][0]["version"] == project()["version"] == version("escalation-mcp")


def test_server_json_lists_real_settings_with_their_defaults_and_choices():
    fields = Settings.model_fields
    hints = typing.get_type_hints(Settings)

    for variable in load("server.json")["packages"][0]["environmentVariables"]:
        field = variable["name"].removeprefix("ESCALATION_").lower()
        assert field in fields, f"{variable['name']} is not a setting"
        if "choices" in variable:
            assert variable["choices"] == list(typing.get_args(hints[field]))
        if "default" in variable:
            assert variable["default"] == str(fields[field].default)


def test_the_repository_is_the_one_the_registry_name_and_the_package_point_at():
    server = load("server.json")
    owner = server["name"].removeprefix("io.github.").split("/")[0]

    assert (
        server["repository"]["url"] == project()["urls"]["Repository"] == f"https://github.com/{owner}/escalation-mcp"
    )


def test_the_readme_carries_the_marker_the_registry_looks_for_on_pypi():
    assert f"mcp-name: {load('server.json')['name']}" in readme()
    assert project()["readme"] == "README.md", "PyPI publishes this file as the description the registry reads"


def test_the_declared_licence_has_its_file():
    assert project()["license"] == "MIT"
    assert project()["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text("utf-8").startswith("MIT License\n")


def section(heading: str) -> str:
    """The README's text under `heading`, up to the next heading."""
    text = readme()
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(r"^#{1,3} ", text[start:], re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


def client_configs() -> list[dict[str, Any]]:
    """The server entry of each client's snippet, as a user pastes it."""
    configs: list[dict[str, Any]] = []
    for heading, key in (("### Claude Desktop", "mcpServers"), ("### VS Code", "servers")):
        [block] = re.findall(r"```json\n(.*?)```", section(heading), re.DOTALL)
        configs.append(json.loads(block)[key]["escalation"])
    [command] = re.findall(r"```sh\n(.*?)```", section("### Claude Code"), re.DOTALL)
    program, *args = command.split(" -- ", 1)[1].split()
    configs.append({"command": program, "args": args})
    return configs


def test_every_client_snippet_runs_the_checkout_on_the_embedded_workspace_with_nothing_to_fill_in_but_its_path():
    for config in client_configs():
        assert config["command"] == "uv"
        assert config["args"] == ["--directory", CHECKOUT_PLACEHOLDER, "run", "escalation-mcp"]
        assert "env" not in config, "a placeholder setting stops the server; the embedded workspace needs none"


def test_no_snippet_starts_a_folder_through_uvx_which_keeps_a_cached_build_after_git_pull():
    for block in re.findall(r"```[a-z]*\n(.*?)```", readme(), re.DOTALL):
        assert "uvx --from /" not in block
        assert '"--from", "/' not in block


@pytest.mark.skipif(shutil.which("uv") is None, reason="the snippets start uv; install it to run this check")
def test_the_client_command_runs_as_pasted_once_the_path_is_the_checkout(tmp_path: Path):
    [config, *_] = client_configs()
    args = [ROOT.as_posix() if a == CHECKOUT_PLACEHOLDER else a for a in config["args"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_") and k != "VIRTUAL_ENV"}

    done = subprocess.run(
        [config["command"], *args, "--version"],
        cwd=tmp_path,  # a client starts it from anywhere
        env=env | {"UV_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"escalation-mcp {version('escalation-mcp')}\n"
