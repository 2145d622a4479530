"""``fieldrep serve`` (the central sync server), ``fieldrep server user
add|list|disable|enable|password`` and ``fieldrep server purge-tombstones``.

``--db`` takes a SQLite path (default: ``server.db`` in the app-data folder, created on first start)
or a PostgreSQL URL (``postgresql://user@host/dbname``).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fieldrep.cli.common import CommandError, add_json_option, emit
from fieldrep.domain.vocabulary import ROLES
from fieldrep.paths import data_dir

T = TypeVar("T")


def _add_server_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="server database: a SQLite file or postgresql://... "
        f"(default: {data_dir() / 'server.db'})",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the central sync server")
    _add_server_db(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on")
    serve.add_argument("--tls-cert", metavar="FILE", help="TLS certificate (PEM) for HTTPS")
    serve.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM) for HTTPS")
    serve.add_argument(
        "--docs",
        action="store_true",
        help="also serve the OpenAPI description at /openapi.json and docs at /docs (no sign-in"
        " needed to read them)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="a reverse proxy (address or network, e.g. 10.0.0.0/8) whose X-Forwarded-For names"
        " the client; repeat for several (without it the header is ignored)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=16,
        metavar="N",
        help="requests handled at once (threads), and database connections (default 16)",
    )
    serve.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(handler=run_serve)

    server = sub.add_parser("server", help="administer the sync server (users)")
    server_sub = server.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    user = server_sub.add_parser("user", help="server users")
    user_sub = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    add = user_sub.add_parser(
        "add", help="create a user who can sign in (or give a user synced from a laptop a password)"
    )
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--display-name", default="")
    add.add_argument("--manager", metavar="NAME", help="the user's manager (a user name)")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    _add_server_db(add)
    add_json_option(add)
    add.set_defaults(handler=run_user_add)
    lst = user_sub.add_parser("list", help="list users")
    _add_server_db(lst)
    add_json_option(lst)
    lst.set_defaults(handler=run_user_list)
    disable = user_sub.add_parser("disable", help="disable a user and revoke their devices")
    disable.add_argument("name")
    _add_server_db(disable)
    add_json_option(disable)
    disable.set_defaults(handler=run_user_disable)
    enable = user_sub.add_parser("enable", help="let a disabled user sign in again")
    enable.add_argument("name")
    _add_server_db(enable)
    add_json_option(enable)
    enable.set_defaults(handler=run_user_enable)
    password = user_sub.add_parser("password", help="set a new password for a user")
    password.add_argument("name")
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    _add_server_db(password)
    add_json_option(password)
    password.set_defaults(handler=run_user_password)
    purge = server_sub.add_parser(
        "purge-tombstones",
        help="forget deletions older than the longest time a laptop may stay offline",
    )
    purge.add_argument(
        "--older-than-days",
        type=float,
        default=90.0,
        metavar="DAYS",
        help="keep deletions younger than this (default 90); a laptop offline longer than"
        " this gets a full replacement sync",
    )
    _add_server_db(purge)
    add_json_option(purge)
    purge.set_defaults(handler=run_purge)


def _storage(  # type: ignore[no-untyped-def]
    args: argparse.Namespace, pool_size: int | None = None, *, creates: bool = False
):
    """The server database; a ``--db`` file that does not exist is refused (exit 2) unless the
    command ``creates`` one (serve, user add), which then says it made one."""
    from fieldrep.server.storage import Storage

    url = args.db or str(data_dir() / "server.db")
    if not args.db:
        data_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    elif "://" not in url and not Path(url).exists():
        if not creates:
            raise CommandError(
                f"there is no server database at {url} (serve and server user add create one)",
                exit_code=2,
            )
        args.created_db = url  # said once the command has succeeded (fieldrep.cli.main)
    if url.startswith(("postgresql://", "postgres://")):
        _probe_postgres(url)
    try:
        return Storage(url, pool_size=pool_size)
    except Exception as exc:  # any driver's connection error, reported in one sentence
        raise CommandError(f"cannot open the server database {url}: {exc}") from exc


# How long `serve` waits for PostgreSQL to answer before saying it cannot connect (the pool would
# otherwise retry for 30 s, logging a warning each time).
PG_CONNECT_TIMEOUT_S = 5


def _probe_postgres(url: str) -> None:
    """One connection attempt before the pool opens: a wrong host, port, database or credentials
    is one sentence at once (exit 1; a URL that does not parse, exit 2)."""
    import psycopg

    shown = _without_password(url)
    try:
        psycopg.connect(url, connect_timeout=PG_CONNECT_TIMEOUT_S, autocommit=True).close()
    except psycopg.OperationalError as exc:
        raise CommandError(f"cannot connect to PostgreSQL at {shown}: {_reason(exc)}") from None
    except psycopg.Error as exc:  # ProgrammingError: the URL itself is not a connection string
        raise CommandError(f"{shown} is not a usable PostgreSQL URL: {_reason(exc)}", 2) from None


def _reason(exc: Exception) -> str:
    """libpq's message cut to its cause ("Connection refused", 'database "x" does not exist')."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if "FATAL:" in text:
        text = text.split("FATAL:", 1)[1]
    elif "failed: " in text:
        text = text.rsplit("failed: ", 1)[1]
    text = text.strip().rstrip(".")
    if text.lower() == "connection refused":
        text += " (is PostgreSQL running there, and is the port right?)"
    elif "timeout expired" in text.lower():
        text = f"no answer within {PG_CONNECT_TIMEOUT_S} s (is the host right?)"
    return text


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    except ValueError:
        return url.split("@", 1)[-1]


def read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(prompt)
    if not password:
        raise CommandError("no password given", 2)
    return password


def run_serve(args: argparse.Namespace) -> int:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CommandError("--tls-cert and --tls-key go together", 2)
    if args.workers < 1:
        raise CommandError("--workers must be at least 1", 2)
    try:
        for proxy in args.trusted_proxy:
            ipaddress.ip_network(proxy, strict=False)
    except ValueError as exc:
        raise CommandError(f"--trusted-proxy: {exc}", 2) from None
    # a bad database is said before the imports
    storage = _storage(args, pool_size=args.workers, creates=True)
    if getattr(args, "created_db", None) is not None:  # said now: a server runs until stopped
        print(f"fieldrep: created a new server database at {args.created_db}", file=sys.stderr)
        args.created_db = None
    import uvicorn

    from fieldrep.server.app import create_app
    from fieldrep.server.limits import uvicorn_options

    app = create_app(
        storage, docs=args.docs, trusted_proxies=args.trusted_proxy, workers=args.workers
    )
    if os.environ.get("FIELDREP_REQUEST_LOG"):
        from fieldrep.server.timings import RequestTimings

        app.add_middleware(RequestTimings, path=os.environ["FIELDREP_REQUEST_LOG"])
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        fd=args.fd,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        log_level=os.environ.get("FIELDREP_LOG_LEVEL", "info"),
        lifespan="off",
        **uvicorn_options(),
    )
    scheme = "https" if args.tls_cert else "http"
    print(
        f"FieldRep sync server on {scheme}://{args.host}:{args.port} "
        f"({storage.dialect}); Ctrl+C stops it",
        flush=True,
    )
    try:
        uvicorn.Server(config).run()
    except OSError as exc:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc}") from exc
    finally:
        storage.close()
    return 0


def run_user_add(args: argparse.Namespace) -> int:
    from fieldrep.server import admin

    storage = _storage(args, creates=True)
    try:
        manager_id = admin.user_id_of(storage, args.manager) if args.manager else None
        password = read_password(args)
        user_id = admin.add_user(
            storage,
            args.name,
            args.role,
            password,
            display_name=args.display_name,
            manager_id=manager_id,
        )
    except admin.AdminError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        storage.close()
    emit(
        args,
        {"id": user_id, "username": args.name, "role": args.role},
        f"added {args.role} {args.name} ({user_id})",
    )
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    from fieldrep.server import admin

    storage = _storage(args)
    try:
        users = admin.list_users(storage)
    finally:
        storage.close()
    lines = [
        f"{u['username']:<20} {u['role']:<8} {'active' if u['active'] else 'disabled':<9}"
        f" devices: {u['devices']}{'' if u['can_sign_in'] else '  (no password yet: user add)'}"
        for u in users
    ] or ["(no users yet)"]
    emit(args, {"users": users}, "\n".join(lines))
    return 0


def _admin(args: argparse.Namespace, action: Callable[[Any, Any], T]) -> T:
    """Run ``action(admin, storage)`` on the server database, its refusals as one sentence."""
    from fieldrep.server import admin

    storage = _storage(args)
    try:
        return action(admin, storage)
    except admin.AdminError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        storage.close()


def run_user_disable(args: argparse.Namespace) -> int:
    revoked = _admin(args, lambda admin, storage: admin.disable_user(storage, args.name))
    emit(
        args,
        {"username": args.name, "revoked_devices": revoked},
        f"disabled {args.name}; {revoked} device(s) signed out",
    )
    return 0


def run_user_enable(args: argparse.Namespace) -> int:
    _admin(args, lambda admin, storage: admin.enable_user(storage, args.name))
    emit(
        args,
        {"username": args.name, "active": True},
        f"enabled {args.name}; they sign in again on each laptop",
    )
    return 0


def run_user_password(args: argparse.Namespace) -> int:
    def reset(admin: Any, storage: Any) -> int:
        admin.user_id_of(storage, args.name)  # a clear refusal before asking for a password
        return int(admin.set_password(storage, args.name, read_password(args, "New password: ")))

    revoked = _admin(args, reset)
    emit(
        args,
        {"username": args.name, "revoked_devices": revoked},
        f"new password set for {args.name}; {revoked} device(s) signed out",
    )
    return 0


def run_purge(args: argparse.Namespace) -> int:
    from fieldrep.server import admin

    if args.older_than_days < 0:
        raise CommandError("--older-than-days cannot be negative", 2)
    storage = _storage(args)
    try:
        removed = admin.purge_tombstones(storage, args.older_than_days)
    finally:
        storage.close()
    emit(
        args,
        {"purged": removed, "older_than_days": args.older_than_days},
        f"forgot {removed} deletion(s) older than {args.older_than_days:g} days",
    )
    return 0
