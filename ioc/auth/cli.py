"""`python app.py users …` and `python app.py kiosk …`: people and wall screens, from the shell.

Passwords are read from a prompt (or stdin with --password-stdin), never from the command line, where
they would stay in the shell's history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ioc.auth import ROLES
from ioc.auth import store as auth_store
from ioc.config import Config

ACTOR = "cli"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="users and wall-screen tokens")
    commands = parser.add_subparsers(dest="group", required=True)
    users = commands.add_parser("users", help="people who sign in").add_subparsers(dest="action", required=True)
    add = users.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--domains", default="", help="comma-separated domain keys (officers)")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = users.add_parser("passwd", help="set a user's password (and unlock the account)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    for name, text in (("disable", "stop a user from signing in"), ("enable", "let a disabled user sign in")):
        users.add_parser(name, help=text).add_argument("username")
    role = users.add_parser("role", help="change a user's role and domains")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=ROLES)
    role.add_argument("--domains", default="")
    users.add_parser("list", help="list users")
    kiosk = commands.add_parser("kiosk", help="wall-screen tokens").add_subparsers(dest="action", required=True)
    kiosk.add_parser("add", help="create a token for a wall screen").add_argument("name")
    kiosk.add_parser("revoke", help="revoke a token").add_argument("id", type=int)
    kiosk.add_parser("list", help="list tokens")
    return parser


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise auth_store.UserError("the two passwords differ")
    return first


def _domains(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip()]


def run(config: Config, argv: list[str]) -> int:
    from ioc.runtime import Runtime

    args = _parser().parse_args(argv)
    runtime = Runtime(config, with_simulator=False).open_storage()
    db, known = runtime.db, set(config.domains)
    try:
        if args.group == "users":
            if args.action == "add":
                user = auth_store.add_user(db, args.username, _password(args.password_stdin), args.role,
                                           _domains(args.domains), args.name, ACTOR, known)
                print(f"user '{user.username}' added ({user.role})")
            elif args.action == "passwd":
                auth_store.update_user(db, args.username, ACTOR, password=_password(args.password_stdin))
                print(f"password of '{args.username}' changed")
            elif args.action in ("disable", "enable"):
                auth_store.update_user(db, args.username, ACTOR, active=args.action == "enable")
                print(f"user '{args.username}' {args.action}d")
            elif args.action == "role":
                auth_store.update_user(db, args.username, ACTOR, role=args.role, domains=_domains(args.domains),
                                       known_domains=known)
                print(f"user '{args.username}' is now {args.role}")
            else:
                print(auth_store.users(db).to_string(index=False))
        elif args.action == "add":
            token = auth_store.create_kiosk_token(db, args.name, ACTOR)
            print(f"wall screen '{args.name}': open http://<server>/kiosk?token={token}\n"
                  "(the token is shown only now; revoke it with: python app.py kiosk revoke <id>)")
        elif args.action == "revoke":
            auth_store.revoke_kiosk_token(db, args.id, ACTOR)
            print(f"kiosk token {args.id} revoked")
        else:
            print(auth_store.kiosk_tokens(db).to_string(index=False))
    except auth_store.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.stop()
    return 0
