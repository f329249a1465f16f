"""Reviewer accounts: salted PBKDF2-SHA256 hashes, and the users table behind them.

The hash format is ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (as Django and
datasette-auth-passwords write it), so the iteration count can grow without breaking old rows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sqlite3
from typing import Any

import sqlite_utils

from evidence.db.values import now
from evidence.errors import EvidenceError

ITERATIONS = 600_000
ROLES = ("reviewer", "lead")
#: Checked against when a user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = "pbkdf2_sha256$600000$c2FsdA$" + "A" * 43
#: The password hash of an account made for sign-in through the institution: no password
#: matches it (``verify_password`` finds no algorithm), so it can only come in through the proxy.
NO_PASSWORD = "!"


class UserError(EvidenceError):
    """A bad user name, role or password when managing accounts."""


def hash_password(password: str, *, iterations: int | None = None) -> str:
    iterations = iterations or ITERATIONS
    salt = base64.b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode(), iterations)
    encoded = base64.b64encode(digest).decode("ascii").rstrip("=")
    return f"pbkdf2_sha256${iterations}${salt}${encoded}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; constant-time comparison of the digests."""
    try:
        algorithm, iterations, salt, expected = stored.split("$", 3)
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode(),
                                 int(iterations))
    actual = base64.b64encode(digest).decode("ascii").rstrip("=")
    return secrets.compare_digest(actual, expected)


def add_user(db: sqlite_utils.Database, username: str, password: str,
             role: str = "reviewer") -> None:
    """Create an account, or set a new password and role for an existing one."""

    username = username.strip()
    if not username or any(c.isspace() for c in username):
        raise UserError(f"user name {username!r}: use one word without spaces")
    if role not in ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("password: use at least 8 characters")
    db.execute(
        "INSERT INTO users (username, password_hash, role, created_at, disabled)"
        " VALUES (?, ?, ?, ?, 0) ON CONFLICT(username) DO UPDATE SET"
        " password_hash = excluded.password_hash, role = excluded.role, disabled = 0,"
        " session_generation = session_generation + 1",  # a new password ends old sessions
        [username, hash_password(password), role, now()])
    db.conn.commit()


def add_proxy_user(db: sqlite_utils.Database, username: str, role: str = "reviewer") -> None:
    """Create an account without a password (it signs in through the institution's proxy),
    or set the role of an existing one, keeping its password if it has one."""
    username = username.strip()
    if not username or any(c.isspace() for c in username):
        raise UserError(f"user name {username!r}: use one word without spaces")
    if role not in ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    db.execute(
        "INSERT INTO users (username, password_hash, role, created_at, disabled)"
        " VALUES (?, ?, ?, ?, 0) ON CONFLICT(username) DO UPDATE SET role = excluded.role,"
        " disabled = 0", [username, NO_PASSWORD, role, now()])
    db.conn.commit()


def list_users(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(zip(("username", "role", "created_at", "disabled"), row, strict=True))
            for row in db.execute("SELECT username, role, created_at, disabled FROM users"
                                  " ORDER BY username").fetchall()]


def authenticate(conn: sqlite3.Connection, username: str, password: str) -> dict | None:
    """The actor dict for a correct user name and password, else None."""
    user = check_login(login_row(conn, username), password)
    return {"id": user["id"], "role": user["role"]} if user else None


def login_row(conn: sqlite3.Connection, username: str) -> tuple | None:
    """(username, password hash, role, session generation) of an active account, or None."""
    return conn.execute("SELECT username, password_hash, role, session_generation FROM users"
                        " WHERE username = ? AND NOT disabled", [username]).fetchone()


def check_login(row: tuple | None, password: str) -> dict | None:
    """The slow half of a login (PBKDF2), kept apart so the web app runs it off its SQL
    threads; an unknown name costs as long as a wrong password."""
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row[1]):
        return None
    return {"id": row[0], "role": row[2], "generation": row[3]}


def current_user(conn: sqlite3.Connection, username: str) -> dict | None:
    """The account behind a signed cookie, re-read so a disabled user or new role counts now."""
    row = conn.execute("SELECT username, role, session_generation FROM users"
                       " WHERE username = ? AND NOT disabled", [username]).fetchone()
    return {"id": row[0], "role": row[1], "generation": row[2]} if row else None


def remote_account(conn: sqlite3.Connection, username: str, *,
                   create: bool = False) -> dict | None:
    """The active account the institution's proxy named, or None.

    With ``create`` an unknown name becomes a reviewer without a password (a lead sets roles
    with ``evidence users add NAME --role lead``); a disabled account stays disabled.
    """
    user = current_user(conn, username)
    if user is not None or not create:
        return user
    conn.execute("INSERT INTO users (username, password_hash, role, created_at, disabled)"
                 " VALUES (?, ?, 'reviewer', ?, 0) ON CONFLICT(username) DO NOTHING",
                 [username, NO_PASSWORD, now()])
    conn.commit()
    return current_user(conn, username)


def end_sessions(conn: sqlite3.Connection, username: str) -> None:
    """Log the account out everywhere: every cookie issued before now stops working."""
    conn.execute("UPDATE users SET session_generation = session_generation + 1"
                 " WHERE username = ?", [username])
    conn.commit()
