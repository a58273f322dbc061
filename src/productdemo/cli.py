"""The ``productdemo`` command: serve the app, manage users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from productdemo.config import Config, load_config
from productdemo.errors import DomainError, ProductDemoError
from productdemo.services.users.passwords import Passwords
from productdemo.services.users.service import ROLES, UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import create_engine, create_session_factory, upgrade_sync

T = TypeVar("T")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn logs two INFO lines per WebSocket ("connection open", "[accepted]"); the hub
    # logs one line per connect and per disconnect, with the user, at DEBUG.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _with_users(config: Config, action: Callable[[UserService], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(config.database_url)
        db = create_session_factory(engine)
        try:
            sec = config.security
            passwords = Passwords(sec.argon2_time_cost, sec.argon2_memory_kib)
            return await action(UserService(db, SessionStore(db, config.secret_key(), 1), passwords))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise DomainError("the passwords differ")
    return first


def serve(config: Config) -> None:
    # Imported here: the web stack doubles the start-up time of the ``users`` commands.
    from productdemo.app import create_app
    from productdemo.server import Server, uvicorn_config

    config.storage.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(config.database_url)
    password = _with_users(config, lambda users: users.ensure_admin())
    if password is not None:
        _out(
            f"\n  Created user 'admin' with the one-time password: {password}\n"
            "  Sign in and change it: productdemo users set-password admin\n"
        )
    scheme = "https" if config.server.tls_certfile is not None else "http"
    _out(f"ProductDemo on {scheme}://{config.server.host}:{config.server.port}")
    Server(uvicorn_config(create_app(config), config)).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="productdemo", description=__doc__)
    parser.add_argument("--config", type=Path, help="ini file (default conf/config.ini)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the web server")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    p_serve.add_argument("--ssl-certfile", type=Path, help="PEM certificate (chain): serve HTTPS and WSS")
    p_serve.add_argument("--ssl-keyfile", type=Path, help="PEM private key of the certificate")
    p_serve.add_argument("--config", type=Path, dest="serve_config", help="ini file")
    p_users = sub.add_parser("users", help="manage accounts")
    users = p_users.add_subparsers(dest="users_command", required=True)
    p_create = users.add_parser("create", help="create an account")
    p_create.add_argument("name")
    p_create.add_argument("--role", choices=ROLES, required=True)
    p_create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users.add_parser("list", help="list accounts")
    p_pw = users.add_parser("set-password", help="change a password (ends that user's sessions)")
    p_pw.add_argument("name")
    p_pw.add_argument("--password-stdin", action="store_true")
    p_dis = users.add_parser("disable", help="disable an account (ends its sessions, closes its sockets)")
    p_dis.add_argument("name")
    args = parser.parse_args(argv)

    try:
        overrides: dict[str, dict[str, object]] = {}
        if args.command == "serve":
            given = (
                ("host", args.host),
                ("port", args.port),
                ("tls_certfile", args.ssl_certfile),
                ("tls_keyfile", args.ssl_keyfile),
            )
            server = {k: v for k, v in given if v is not None}
            overrides["server"] = server
        config = load_config(getattr(args, "serve_config", None) or args.config, overrides=overrides)
        configure_logging(config.logging.level)
        if args.command == "serve":
            serve(config)
            return 0
        upgrade_sync(config.database_url)
        return _users_command(config, args)
    except DomainError as exc:
        _err(exc.message)
    except ProductDemoError as exc:
        _err(str(exc))
    return 1


def _err(message: str) -> None:
    sys.stderr.write(f"productdemo: {message}\n")


def _users_command(config: Config, args: argparse.Namespace) -> int:
    cmd = args.users_command
    if cmd == "create":
        password = _read_password(args.password_stdin)
        user = _with_users(config, lambda s: s.create(args.name, password, args.role))
        _out(f"created {user.username} ({user.role}), id {user.id}")
    elif cmd == "list":
        for u in _with_users(config, lambda s: s.list()):
            _out(f"{u.id:>6}  {u.username:<24} {u.role:<6} {'disabled' if u.disabled else 'active'}")
    elif cmd == "set-password":
        password = _read_password(args.password_stdin)
        _with_users(config, lambda s: s.set_password(args.name, password))
        _out(f"password changed; {args.name}'s sessions have ended")
    elif cmd == "disable":
        _with_users(config, lambda s: s.disable(args.name))
        _out(f"{args.name} disabled; their sessions have ended")
    return 0
