"""The [mcp] catalogue: numbered entries from the file and the environment, no %-interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from productdemo.config import load_config
from productdemo.errors import ConfigError

INI = Path(__file__).resolve().parents[3] / "conf" / "config.ini"


def test_shipped_default_is_a_pinned_published_server() -> None:
    """conf/config.ini ships entry 1: mcp-server-time, pinned to a version."""
    (entry,) = load_config(INI, environ={}).mcp.catalogue
    assert entry.id == "1"
    assert entry.install_command == "uv tool install --force mcp-server-time==2026.10.19"
    assert entry.launch_command == '"$HOME/.local/bin/mcp-server-time"'


def test_environment_adds_numbered_entries_with_percent_signs(tmp_path: Path) -> None:
    """PRODUCTDEMO_MCP_MCP_TERMINAL_COMMAND_2 etc. add entry 2; '%' stays literal."""
    ini = tmp_path / "c.ini"
    ini.write_text(
        "[mcp]\nmcp_server_name_1 = a\nmcp_terminal_command_1 = date +%s\nmcp_launch_command_1 = a\n"
    )
    env = {
        "PRODUCTDEMO_MCP_MCP_SERVER_NAME_2": "b",
        "PRODUCTDEMO_MCP_MCP_TERMINAL_COMMAND_2": "echo 100%",
        "PRODUCTDEMO_MCP_MCP_LAUNCH_COMMAND_2": "b-server",
    }
    catalogue = load_config(ini, environ=env).mcp.catalogue
    assert [(e.id, e.name, e.install_command) for e in catalogue] == [
        ("1", "a", "date +%s"),
        ("2", "b", "echo 100%"),
    ]


def test_an_incomplete_entry_is_a_config_error(tmp_path: Path) -> None:
    """An entry without its launch command is refused at start-up, naming the key."""
    ini = tmp_path / "c.ini"
    ini.write_text("[mcp]\nmcp_server_name_3 = a\nmcp_terminal_command_3 = true\n")
    with pytest.raises(ConfigError, match="mcp_launch_command_3"):
        load_config(ini, environ={})
