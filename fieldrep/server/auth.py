"""Passwords, device tokens and login rate limiting.

Passwords are hashed with scrypt (``hashlib.scrypt``, RFC 7914) and a random salt; the parameters
travel inside the stored string so they can be raised later. A device token is 256 random bits handed
to the client once; the server keeps only its SHA-256, so a leaked server database yields no usable
token. Tokens are per device and revocable (logout, ``server user disable``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Spend the same scrypt work for unknown users so response time does not reveal which names exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def check_unknown_user(password: str) -> None:
    verify_password(password, _DUMMY_HASH)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class RateLimiter:
    """At most ``limit`` failed logins per key (user name, client address) in ``window`` seconds.

    Kept in memory: a restart forgets it, which costs an attacker a restart per few guesses.
    """

    limit: int = 5
    window: float = 60.0

    def __post_init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds to wait before another attempt, 0 when allowed."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self.window - (now - q[0])
                for k in keys
                if len(q := self._recent(k, now)) >= self.limit
            ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
