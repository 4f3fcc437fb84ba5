"""``python -m server``: manage users and API keys in the server's database (same settings as the server)."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from ops.settings import Settings
from service.accounts import TIERS, AccountError, check_balance, create_key, create_user, revoke_key, set_password
from service.db import ApiKey, Database, User


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description="Accounts and API keys (STUDIO_DATA_DIR / STUDIO_DATABASE_URL).")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-user", help="create a user")
    add.add_argument("email")
    add.add_argument("--tier", default="pro", choices=list(TIERS))
    add.add_argument("--credits", type=int, default=0)
    add.add_argument("--coins", type=int, default=0)
    commands.add_parser("users", help="list users")
    update = commands.add_parser("set-user", help="change a user's tier or balance")
    update.add_argument("email")
    update.add_argument("--tier", choices=list(TIERS))
    update.add_argument("--credits", type=int)
    update.add_argument("--coins", type=int)
    new_key = commands.add_parser("add-key", help="create an API key (printed once)")
    new_key.add_argument("email")
    new_key.add_argument("--name", default="")
    keys = commands.add_parser("keys", help="list a user's keys")
    keys.add_argument("email")
    password = commands.add_parser("set-password", help="set the password used to sign in to the web UI")
    password.add_argument("email")
    password.add_argument("--password", help="(prompted for when left out)")
    revoke = commands.add_parser("revoke-key", help="revoke a key by its id")
    revoke.add_argument("email")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    try:
        with db.session() as session:
            lines = _run(args, session)
    except AccountError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    # printed only after the transaction committed: a key on the screen is a key that exists
    # (and a closed pipe, as in `add-key ... | head -1`, can no longer roll it back)
    try:
        print("\n".join(lines), flush=True)
    except BrokenPipeError:
        sys.stdout = None  # type: ignore[assignment]  # nothing more can be written; the work is saved
    return 0


def _run(args: argparse.Namespace, session) -> list[str]:  # noqa: ANN001
    """Do the command inside one transaction; return what to print once it is committed."""
    if args.command == "add-user":
        user = create_user(session, args.email, args.tier, args.credits, args.coins)
        return [f"{user.id}  {user.email}  {user.tier}  credits={user.credits} coins={user.coins}"]
    if args.command == "users":
        users = session.scalars(select(User).order_by(User.created_at))
        return [f"{user.id}  {user.email:<30} {user.tier:<10} credits={user.credits} coins={user.coins}" for user in users]
    user = session.scalar(select(User).where(User.email == args.email))
    if user is None:
        raise AccountError(f"no user {args.email}")
    if args.command == "set-user":
        for field in ("credits", "coins"):
            if getattr(args, field) is not None:
                check_balance(getattr(args, field))
        for field in ("tier", "credits", "coins"):
            if getattr(args, field) is not None:
                setattr(user, field, getattr(args, field))
        return [f"{user.email}: tier={user.tier} credits={user.credits} coins={user.coins}"]
    if args.command == "add-key":
        record, key = create_key(session, user, args.name)
        return [key, f"(key id {record.id}; shown once — it is stored only as a hash)"]
    if args.command == "keys":
        lines = []
        for key in session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at)):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            lines.append(f"{key.id}  {key.prefix}…  {key.name or '-':<12} {state:<18} last used {used}")
        return lines
    if args.command == "set-password":
        set_password(user, args.password or getpass.getpass(f"password for {user.email}: "))
        return ["password set"]
    if not revoke_key(session, user.id, args.key_id):  # revoke-key
        raise AccountError("no such active key for this user")
    return ["revoked"]


if __name__ == "__main__":
    sys.exit(main())
