"""Config: the ini file, the environment, overrides, validation and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from productdemo.config import PLACEHOLDER_SECRET, Config, load_config
from productdemo.errors import ConfigError

CONFIG_INI = Path(__file__).parent.parent / "conf" / "config.ini"


def _ini(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.ini"
    path.write_text(text, encoding="utf-8")
    return path


def _error(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_documented_defaults_match_the_built_in_ones() -> None:
    """conf/config.ini documents exactly the defaults the code has."""
    assert load_config(CONFIG_INI, environ={}) == Config()


def test_ini_values_are_read(tmp_path: Path) -> None:
    """Values in the ini file are parsed to their types."""
    path = _ini(
        tmp_path, "[server]\nport = 9001\n[security]\nsession_lifetime = 60\ncookie_secure = always\n"
    )
    config = load_config(path, environ={})
    assert (config.server.port, config.security.session_lifetime) == (9001, 60)
    assert config.security.cookie_secure == "always"


def test_environment_overrides_the_ini_file(tmp_path: Path) -> None:
    """PRODUCTDEMO_<SECTION>_<KEY> wins over the ini file, also for keys with underscores."""
    path = _ini(tmp_path, "[server]\nport = 9001\n[security]\nlogin_max_failures = 3\n")
    env = {"PRODUCTDEMO_SERVER_PORT": "9002", "PRODUCTDEMO_SECURITY_LOGIN_MAX_FAILURES": "7"}
    config = load_config(path, environ=env)
    assert (config.server.port, config.security.login_max_failures) == (9002, 7)


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    """Explicit overrides (tests, CLI flags) are applied after the environment."""
    config = load_config(
        _ini(tmp_path, "[server]\nport = 9001\n"),
        environ={"PRODUCTDEMO_SERVER_PORT": "9002"},
        overrides={"server": {"port": 9003}},
    )
    assert config.server.port == 9003


def test_other_variables_are_ignored(tmp_path: Path) -> None:
    """Variables without the prefix, and the test harness's own PRODUCTDEMO_ variables, are not settings."""
    env = {
        "PATH": "/bin",
        "SERVER_PORT": "1",
        "PRODUCTDEMO_REQUIRE_SERVICES": "1",
        "PRODUCTDEMO_TEST_TIME_SCALE": "3",
    }
    assert load_config(_ini(tmp_path, ""), environ=env) == Config()


@pytest.mark.parametrize(
    "name", ["PRODUCTDEMO_BOGUS_KEY", "PRODUCTDEMO_SERVER", "PRODUCTDEMO_SECURITY_SECRET"]
)
def test_unknown_environment_variable_is_named(tmp_path: Path, name: str) -> None:
    """A PRODUCTDEMO_ variable that names no section and key is an error naming the variable."""
    assert (
        _error(path=_ini(tmp_path, ""), environ={name: "x"})
        == f"environment variable {name} names no setting"
    )


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """An explicit config file that does not exist is named in the error."""
    missing = tmp_path / "nope.ini"
    assert _error(path=missing, environ={}) == f"config file {missing} does not exist"


def test_unknown_ini_section_is_named(tmp_path: Path) -> None:
    """A section the config does not have is named, with the file."""
    path = _ini(tmp_path, "[serverr]\nport = 1\n")
    assert _error(path=path, environ={}) == f"{path}: unknown section [serverr]"


def test_unknown_ini_key_is_named(tmp_path: Path) -> None:
    """A key a section does not have is named with its section."""
    path = _ini(tmp_path, "[server]\nprot = 1\n")
    assert (
        _error(path=path, environ={})
        == "invalid configuration: [server] prot: Extra inputs are not permitted"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "PRODUCTDEMO_SERVER_PORT",
            "eighty",
            "[server] port: Input should be a valid integer, unable to parse string as an integer",
        ),
        ("PRODUCTDEMO_SERVER_PORT", "70000", "[server] port: Input should be less than or equal to 65535"),
        (
            "PRODUCTDEMO_SECURITY_COOKIE_SECURE",
            "yes",
            "[security] cookie_secure: Input should be 'auto', 'always' or 'never'",
        ),
        (
            "PRODUCTDEMO_SECURITY_SESSION_LIFETIME",
            "0",
            "[security] session_lifetime: Input should be greater than or equal to 1",
        ),
        (
            "PRODUCTDEMO_REALTIME_DEBUG_FRAMES",
            "perhaps",
            "[realtime] debug_frames: Input should be a valid boolean, unable to interpret input",
        ),
        (
            "PRODUCTDEMO_LLM_MAX_STARTING",
            "0",
            "[llm] max_starting: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_values_name_the_setting_and_the_problem(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    """A value of the wrong type or range is refused with its section, key and reason."""
    assert _error(path=_ini(tmp_path, ""), environ={variable: value}) == f"invalid configuration: {message}"


def test_allowed_origins_are_split_and_normalized(tmp_path: Path) -> None:
    """A comma-separated list becomes a tuple of lower-case origins without blanks or trailing slashes."""
    env = {"PRODUCTDEMO_SECURITY_ALLOWED_ORIGINS": " HTTPS://App.Example.com, http://localhost:5173/ ,,"}
    config = load_config(_ini(tmp_path, ""), environ=env)
    assert config.security.allowed_origins == ("https://app.example.com", "http://localhost:5173")


def test_allowed_origins_default_to_none_configured(tmp_path: Path) -> None:
    """Without a list no extra origin is allowed (the policy then means same origin)."""
    assert load_config(_ini(tmp_path, ""), environ={}).security.allowed_origins == ()


@pytest.mark.parametrize(
    "origin",
    [
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://app.example.com#top",
        "http://:8080",
        "https://app.example.com:port",
        "https://user@app.example.com",
        "*",
    ],
)
def test_malformed_allowed_origin_is_refused(tmp_path: Path, origin: str) -> None:
    """Anything but scheme://host[:port] with http or https is refused, quoting the value."""
    env = {"PRODUCTDEMO_SECURITY_ALLOWED_ORIGINS": f"https://ok.example.com,{origin}"}
    assert _error(path=_ini(tmp_path, ""), environ=env) == (
        "invalid configuration: [security] allowed_origins: "
        f"Value error, {origin!r} is not an origin like https://app.example.com"
    )


def test_production_refuses_the_placeholder_secret(tmp_path: Path) -> None:
    """environment = production with the development secret key does not start."""
    env = {"PRODUCTDEMO_SECURITY_ENVIRONMENT": "production"}
    assert _error(path=_ini(tmp_path, ""), environ=env) == (
        "[security] secret_key is the development placeholder; set PRODUCTDEMO_SECURITY_SECRET_KEY "
        "or secret_key_file in production"
    )


def test_production_accepts_a_real_secret(tmp_path: Path) -> None:
    """A secret key from the environment satisfies production, and signs cookies."""
    env = {"PRODUCTDEMO_SECURITY_ENVIRONMENT": "production", "PRODUCTDEMO_SECURITY_SECRET_KEY": "k" * 32}
    config = load_config(_ini(tmp_path, ""), environ=env)
    assert config.secret_key() == b"k" * 32


def test_development_uses_the_placeholder(tmp_path: Path) -> None:
    """In development the placeholder key is used as is."""
    assert load_config(_ini(tmp_path, ""), environ={}).secret_key() == PLACEHOLDER_SECRET.encode()


def test_secret_key_file_takes_precedence(tmp_path: Path) -> None:
    """The key file's content, stripped, is the key, even in production with no secret_key set."""
    key_file = tmp_path / "secret.key"
    key_file.write_text("  from-the-file\n", encoding="utf-8")
    env = {
        "PRODUCTDEMO_SECURITY_ENVIRONMENT": "production",
        "PRODUCTDEMO_SECURITY_SECRET_KEY_FILE": str(key_file),
    }
    config = load_config(_ini(tmp_path, ""), environ=env)
    assert config.secret_key() == b"from-the-file"


def test_missing_secret_key_file_is_a_config_error(tmp_path: Path) -> None:
    """A key file that does not exist stops start-up with a message naming it."""
    missing = tmp_path / "missing.key"
    env = {"PRODUCTDEMO_SECURITY_SECRET_KEY_FILE": str(missing)}
    assert _error(path=_ini(tmp_path, ""), environ=env) == (
        f"[security] secret_key_file {missing} cannot be read: No such file or directory"
    )


def test_empty_secret_key_file_is_a_config_error(tmp_path: Path) -> None:
    """A key file holding only whitespace is refused rather than signing with an empty key."""
    key_file = tmp_path / "empty.key"
    key_file.write_text("\n", encoding="utf-8")
    env = {"PRODUCTDEMO_SECURITY_SECRET_KEY_FILE": str(key_file)}
    assert _error(path=_ini(tmp_path, ""), environ=env) == f"[security] secret_key_file {key_file} is empty"


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    """With no database URL the SQLite file lives in the data directory."""
    env = {"PRODUCTDEMO_STORAGE_DATA_DIR": str(tmp_path / "data")}
    config = load_config(_ini(tmp_path, ""), environ=env)
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'productdemo.db'}"


def test_config_is_frozen() -> None:
    """A built Config cannot be changed."""
    config = Config()
    with pytest.raises(Exception, match="frozen"):
        config.server.port = 1  # type: ignore[misc]
