"""Passwords, device tokens and login rate limiting.

Passwords are hashed with scrypt (``hashlib.scrypt``, RFC 7914) and a random salt; the parameters
travel inside the stored string so they can be raised later. A device token is 256 random bits handed
to the client once; the server keeps only its SHA-256, so a leaked server database yields no usable
token. Tokens are per device and revocable (logout, ``server user disable`` and ``password``).
Sign-in attempts are limited by :class:`LoginGuard`, whose counters live in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fieldrep.server.storage import Storage, Tx

# OWASP's recommendation for scrypt. Measured on the 2-core test machine: 0.69 s of CPU and
# 128 MiB of memory per hash or check (2^14 took 0.08 s). The parameters travel in the stored
# string, so a hash made with other parameters still verifies.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# At most this many key derivations at once: each holds 128 * r * N bytes (128 MiB at 2^17).
_DERIVATIONS = threading.BoundedSemaphore(2)
_MAXMEM = 1024**3


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    if n > 2**20 or r > 32 or p > 16:
        raise ValueError("scrypt parameters out of range")
    with _DERIVATIONS:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM
        )


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """A salted scrypt hash. ``n`` other than the default is for test fixtures only, where
    thousands of sign-ins would otherwise cost 0.7 s each."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P, 32)
    b64 = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str, n: int = SCRYPT_N) -> bool:
    """Whether a stored hash is weaker than new hashes (made at cost ``n``): re-made at the next
    successful sign-in, when the password is at hand."""
    try:
        kind, stored_n, r, p, _salt, _digest = stored.split("$")
        return kind != "scrypt" or int(stored_n) < n or int(r) < SCRYPT_R or int(p) < SCRYPT_P
    except ValueError:
        return True


_dummy: list[str] = []


def check_unknown_user(password: str, like: str | None = None) -> None:
    """Spend the same scrypt work for an unknown user (or a disabled one) as for a real check, so
    the response time does not reveal which names exist. ``like`` is a stored hash whose
    parameters to copy."""
    if like is not None:
        verify_password(password + "\0", like)
        return
    if not _dummy:
        _dummy.append(hash_password(secrets.token_hex(8)))
    verify_password(password, _dummy[0])


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# A device token may be used while its device is not signed out or revoked and its user is active,
# not deleted and not disabled: the one definition every request's check is built from.
TOKEN_FROM = (
    "devices d JOIN users u ON u.id = d.user_id JOIN credentials c ON c.user_id = d.user_id"
)
TOKEN_VALID = (
    "d.token_hash = ? AND d.revoked_at IS NULL AND u.active = 1 AND u._deleted = 0"
    " AND c.disabled = 0"
)
TOKEN_OWNER = f"SELECT d.user_id, d.device_id FROM {TOKEN_FROM} WHERE {TOKEN_VALID}"


@dataclass(frozen=True)
class DeviceToken:
    """A request's bearer token, by its SHA-256: pushes and pulls check it in the first statement
    of their own transaction (one round trip less than a check of its own)."""

    hash: str


SIGNED_OUT = "this device is signed out or its access was revoked; sign in again"


class SignedOut(Exception):
    """The token is unknown, signed out or revoked, or its user may not sign in."""

    def __init__(self) -> None:
        super().__init__(SIGNED_OUT)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The address a request came from: the peer, or, when the peer is one of the ``trusted``
    proxies (addresses or networks), the last address in ``X-Forwarded-For`` that is not itself a
    trusted proxy. Without configured proxies the header is ignored: anyone can write it."""
    nets = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in net for net in nets)

    if not nets or not forwarded_for or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a forged or broken header: count the proxy itself
    return peer


@dataclass(frozen=True)
class LoginLimits:
    """How many sign-in attempts are let through to the password check.

    - ``per_pair`` attempts for one user name from one address per ``pair_window`` seconds: a
      guesser at one address is slowed to that rate, the same user elsewhere is not affected;
    - ``per_address`` attempts (any user names) from one address per ``address_window``: slows
      password spraying;
    - ``per_user`` attempts for one user name from addresses it never signed in from, per
      ``user_window``: bounds a guesser spread over many addresses, while the user keeps signing in
      from the addresses they used before.

    A successful sign-in gives back its attempt. The counters live in the database
    (``login_throttle``), so every server process shares them, and each attempt is counted before
    the password is checked, so concurrent guesses cannot slip past the limit.
    """

    per_pair: int = 5
    pair_window: float = 60.0
    per_address: int = 30
    address_window: float = 600.0
    per_user: int = 20
    user_window: float = 3600.0
    known_for_days: float = 90.0


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after


def _take(tx: Tx, key: str, limit: int, window_ms: int, now_ms: int) -> None:
    """Count one attempt under ``key``; Throttled (the transaction is then rolled back, so the
    refused attempt is not counted) when it is over ``limit`` in the current window."""
    row = tx.one(
        "INSERT INTO login_throttle (key, attempts, window_start_ms) VALUES (?, 1, ?)"
        " ON CONFLICT (key) DO UPDATE SET"
        " attempts = CASE WHEN login_throttle.window_start_ms <= ? THEN 1"
        " ELSE login_throttle.attempts + 1 END,"
        " window_start_ms = CASE WHEN login_throttle.window_start_ms <= ? THEN ?"
        " ELSE login_throttle.window_start_ms END"
        " RETURNING attempts, window_start_ms",
        (key, now_ms, now_ms - window_ms, now_ms - window_ms, now_ms),
    )
    assert row is not None
    if int(row[0]) > limit:
        raise Throttled((int(row[1]) + window_ms - now_ms) / 1000)


class LoginGuard:
    """The sign-in limiter over the database (see :class:`LoginLimits`)."""

    def __init__(self, storage: Storage, limits: LoginLimits) -> None:
        self.storage = storage
        self.limits = limits

    def _keys(self, username: str, address: str) -> tuple[str, str, str]:
        name = username.strip().lower()
        return f"pair:{name}|{address}", f"addr:{address}", f"user:{name}"

    def admit(self, username: str, address: str) -> None:
        """Count this attempt; Throttled when one of its limits is used up."""
        lim = self.limits
        pair, addr, user = self._keys(username, address)
        now = int(time.time() * 1000)
        with self.storage.write() as tx:
            _take(tx, pair, lim.per_pair, int(lim.pair_window * 1000), now)
            _take(tx, addr, lim.per_address, int(lim.address_window * 1000), now)
            known = tx.one(
                "SELECT 1 FROM login_known WHERE username = ? AND address = ? AND last_ok_ms > ?",
                (username.strip().lower(), address, now - int(lim.known_for_days * 86_400_000)),
            )
            if known is None:
                _take(tx, user, lim.per_user, int(lim.user_window * 1000), now)
        if secrets.randbelow(50) == 0:
            self.forget_old(now)

    def succeeded(self, username: str, address: str) -> None:
        """Give the attempt back and remember the address as the user's own."""
        pair, addr, user = self._keys(username, address)
        now = int(time.time() * 1000)
        with self.storage.write() as tx:
            tx.execute("DELETE FROM login_throttle WHERE key = ?", (pair,))
            for key in (addr, user):
                tx.execute(
                    "UPDATE login_throttle SET attempts = attempts - 1"
                    " WHERE key = ? AND attempts > 0",
                    (key,),
                )
            tx.execute(
                "INSERT INTO login_known (username, address, last_ok_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (username, address) DO UPDATE SET last_ok_ms = excluded.last_ok_ms",
                (username.strip().lower(), address, now),
            )

    def forget_old(self, now_ms: int) -> None:
        """Drop counters whose window has passed, and addresses unused for ``known_for_days``."""
        lim = self.limits
        longest = int(max(lim.pair_window, lim.address_window, lim.user_window) * 1000)
        with self.storage.write() as tx:
            tx.execute("DELETE FROM login_throttle WHERE window_start_ms < ?", (now_ms - longest,))
            tx.execute(
                "DELETE FROM login_known WHERE last_ok_ms < ?",
                (now_ms - int(lim.known_for_days * 86_400_000),),
            )
