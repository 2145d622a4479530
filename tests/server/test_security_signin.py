"""Attacks on signing in, made over real HTTP against the live server (SQLite and PostgreSQL):
taking over another user's device, skipping a device's changes with ``base_seq``, guessing
passwords (concurrently, from many addresses, through a forged ``X-Forwarded-For``, across two
server processes), and what a password reset or a disabled account gives away."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fieldrep.server import admin, auth
from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import version_headers
from fieldrep.sync.transport import AuthRequired
from tests.sync.harness import PASSWORD, Laptop, LiveServer, Org, account, server_row

Make = Callable[[str], Laptop]


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=version_headers()) as c:
        yield c


def _login(
    client: httpx.Client,
    user: str,
    device: str,
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"user": user, "password": password, "device_id": device, **extra}
    return client.post("/v1/login", json=body, headers=headers)


def _device(storage: Storage, device_id: str) -> tuple[str, int, bool]:
    with storage.read() as tx:
        row = tx.one(
            "SELECT user_id, last_seq, token_hash IS NOT NULL FROM devices WHERE device_id = ?",
            (device_id,),
        )
    assert row is not None
    return str(row[0]), int(row[1]), bool(row[2])


# -- the device takeover (issue 13, item 1) ----------------------------------------------------


def test_signing_in_with_a_colleagues_device_is_refused(
    storage: Storage, org: Org, laptop: Make, client: httpx.Client
) -> None:
    victim = laptop("rep1")
    victim.login("rep1")
    victim.sync()
    device = victim.writer.device_id
    before = _device(storage, device)

    # rep2 knows rep1's device id and tries to take it over, far ahead in its numbering.
    r = _login(client, "rep2", device, base_seq=10**12)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "device_taken"
    assert _device(storage, device) == before  # still rep1's, same numbering, still signed in

    # rep1 is not signed out and none of their next changes is skipped.
    row_id = victim.writer.insert("accounts", account(org.t1, "Kept"))
    victim.writer.update("accounts", row_id, {"phone": "555-0101"})
    result = victim.sync()
    assert (result.pushed, result.skipped, result.rejected) == (2, 0, 0)
    stored = server_row(storage, "accounts", row_id)
    assert stored is not None
    assert stored["phone"] == "555-0101"


def test_base_seq_never_skips_changes_of_an_existing_device(
    storage: Storage, org: Org, laptop: Make, client: httpx.Client
) -> None:
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    device = rep.writer.device_id
    _, last_seq, _ = _device(storage, device)
    # The rightful user signing in again (say, a stolen password) with a huge base_seq.
    r = _login(client, "rep1", device, base_seq=10**12)
    assert r.status_code == 200, r.text
    assert r.json()["last_seq"] == last_seq
    assert _device(storage, device)[1] == last_seq
    # The laptop signs in again and its changes still arrive.
    rep.login("rep1")
    row_id = rep.writer.insert("accounts", account(org.t1, "Not skipped"))
    assert rep.sync().pushed == 1
    assert server_row(storage, "accounts", row_id) is not None


def test_a_shared_laptop_signs_the_next_user_in_as_a_new_device(
    storage: Storage, org: Org, laptop: Make
) -> None:
    lap = laptop("shared")
    lap.login("rep1")
    lap.sync()
    first = lap.writer.device_id
    assert lap.login("rep2") == org.rep2
    second = lap.writer.device_id
    assert second != first
    assert _device(storage, first)[0] == org.rep1
    assert _device(storage, second)[0] == org.rep2
    lap.sync()
    assert set(lap.rows("territories")) >= {org.t2}


# -- guessing passwords (issue 13, item 5) -----------------------------------------------------


def _attempts(
    url: str, count: int, make_body: Callable[[int], dict[str, Any]], headers: Callable[[int], Any]
) -> list[int]:
    """``count`` sign-in attempts at once, from as many threads; their status codes."""
    codes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(min(count, 50))

    def worker(indexes: range) -> None:
        with httpx.Client(base_url=url, headers=version_headers(), timeout=120) as c:
            start.wait()
            for i in indexes:
                r = c.post("/v1/login", json=make_body(i), headers=headers(i))
                with lock:
                    codes.append(r.status_code)

    per = count // min(count, 50)
    threads = [
        threading.Thread(target=worker, args=(range(k * per, (k + 1) * per),))
        for k in range(min(count, 50))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.fixture
def guarded(storage: Storage, org: Org) -> Iterator[LiveServer]:
    """A server behind a proxy at 127.0.0.1 (so tests can speak from many addresses), with the
    default limits."""
    live = LiveServer(
        storage, app_options={"limits": auth.LoginLimits(), "trusted_proxies": ["127.0.0.1"]}
    )
    yield live
    live.stop()


def _wrong(i: int) -> dict[str, Any]:
    return {"user": "rep1", "password": f"guess {i}", "device_id": f"g{i}"}


def test_concurrent_guesses_are_checked_no_more_than_the_limit(guarded: LiveServer) -> None:
    codes = _attempts(guarded.url, 200, _wrong, lambda i: {"X-Forwarded-For": "203.0.113.7"})
    assert len(codes) == 200
    assert codes.count(401) == auth.LoginLimits().per_pair  # 5 checked, not 42
    assert codes.count(429) == 200 - auth.LoginLimits().per_pair


def test_guesses_spread_over_addresses_are_bounded(guarded: LiveServer) -> None:
    with httpx.Client(base_url=guarded.url, headers=version_headers()) as c:
        # The rep's office address, where they signed in before the attack.
        office = {"X-Forwarded-For": "198.51.100.20"}
        assert _login(c, "rep1", "rep1-laptop", headers=office).status_code == 200
    codes = _attempts(
        guarded.url, 1000, _wrong, lambda i: {"X-Forwarded-For": f"10.1.{i // 250}.{i % 250}"}
    )
    assert codes.count(401) == auth.LoginLimits().per_user  # 20 checked of 1,000
    assert codes.count(429) == 1000 - auth.LoginLimits().per_user
    with httpx.Client(base_url=guarded.url, headers=version_headers()) as c:
        # The rightful user is not locked out at their usual address.
        assert _login(c, "rep1", "rep1-laptop", headers=office).status_code == 200
        # Other users are not affected at all.
        r = _login(c, "rep2", "rep2-laptop", headers={"X-Forwarded-For": "10.1.0.1"})
        assert r.status_code == 200, r.text


def test_wrong_passwords_from_one_place_do_not_lock_the_user_out_elsewhere(
    guarded: LiveServer,
) -> None:
    with httpx.Client(base_url=guarded.url, headers=version_headers()) as c:
        for i in range(5):
            r = _login(
                c, "admin", "x", password=f"nope {i}", headers={"X-Forwarded-For": "10.2.0.1"}
            )
            assert r.status_code == 401
        r = _login(c, "admin", "x", headers={"X-Forwarded-For": "10.2.0.1"})
        assert r.status_code == 429  # that address waits, even with the right password
        assert int(r.headers["Retry-After"]) > 0
        r = _login(c, "admin", "admin-laptop", headers={"X-Forwarded-For": "10.2.0.99"})
        assert r.status_code == 200, r.text


def test_forwarded_addresses_are_ignored_without_a_configured_proxy(
    storage: Storage, org: Org
) -> None:
    limits = auth.LoginLimits(per_address=8)
    live = LiveServer(storage, app_options={"limits": limits})
    try:
        with httpx.Client(base_url=live.url, headers=version_headers()) as c:
            codes = [
                _login(
                    c, f"user{i}", "x", password="wrong", headers={"X-Forwarded-For": f"10.3.0.{i}"}
                ).status_code
                for i in range(12)
            ]
    finally:
        live.stop()
    # Every attempt counts against 127.0.0.1, whatever the header claims.
    assert codes == [401] * 8 + [429] * 4


def test_two_server_processes_share_the_limiter(storage: Storage, org: Org) -> None:
    # A second process: its own storage (connections) on the same database.
    other = Storage(storage.url)
    first, second = LiveServer(storage, login_limit=5), LiveServer(other, login_limit=5)
    try:
        limits = auth.LoginLimits()
        codes = []
        for i in range(limits.per_pair + 1):
            live = (first, second)[i % 2]
            with httpx.Client(base_url=live.url, headers=version_headers()) as c:
                codes.append(_login(c, "rep2", "x", password=f"wrong {i}").status_code)
        assert codes == [401] * limits.per_pair + [429]
    finally:
        first.stop()
        second.stop()
        other.close()


def test_the_limiter_forgets_old_counters(storage: Storage, org: Org, guarded: LiveServer) -> None:
    with httpx.Client(base_url=guarded.url, headers=version_headers()) as c:
        for i in range(3):
            _login(c, "rep1", "x", password="bad", headers={"X-Forwarded-For": f"10.4.0.{i}"})
    with storage.read() as tx:
        assert tx.one("SELECT count(*) FROM login_throttle")[0] > 0  # type: ignore[index]
    guard = auth.LoginGuard(storage, auth.LoginLimits())
    guard.forget_old(now_ms=2**62)  # far in the future: every window has passed
    with storage.read() as tx:
        assert tx.one("SELECT count(*) FROM login_throttle")[0] == 0  # type: ignore[index]
        assert tx.one("SELECT count(*) FROM login_known")[0] == 0  # type: ignore[index]


# -- passwords and tokens (issue 13, item 6) ---------------------------------------------------


def test_a_new_password_signs_out_every_device(storage: Storage, org: Org, laptop: Make) -> None:
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    with pytest.raises(admin.AdminError, match="at least 8 characters"):
        admin.set_password(storage, "rep1", "x")
    assert admin.set_password(storage, "rep1", "a new long secret") == 1
    with pytest.raises(AuthRequired):
        rep.sync()
    rep.login("rep1", "a new long secret")
    assert rep.sync().verified is True


def test_a_disabled_account_answers_like_a_wrong_password(
    storage: Storage, org: Org, client: httpx.Client
) -> None:
    admin.disable_user(storage, "rep2")
    right = _login(client, "rep2", "d1")
    wrong = _login(client, "rep2", "d2", password="not it at all")
    unknown = _login(client, "nobody", "d3")
    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert right.json() == wrong.json() == unknown.json()


def test_new_passwords_are_hashed_at_owasp_cost() -> None:
    hashed = auth.hash_password("a long enough secret")
    assert hashed.split("$")[1:4] == [str(2**17), "8", "1"]
    assert auth.verify_password("a long enough secret", hashed)
    assert not auth.verify_password("a long enough secreT", hashed)


def _stored_hash(storage: Storage, user_id: str) -> str:
    with storage.read() as tx:
        row = tx.one("SELECT password_hash FROM credentials WHERE user_id = ?", (user_id,))
    assert row is not None
    return str(row[0])


def test_an_old_hash_is_made_again_at_the_current_cost_on_sign_in(
    storage: Storage, org: Org
) -> None:
    old = auth.hash_password("an older long secret", n=2**14)  # the previous release's cost
    with storage.write() as tx:
        tx.execute("UPDATE credentials SET password_hash = ? WHERE user_id = ?", (old, org.rep1))
    live = LiveServer(storage, app_options={"password_n": auth.SCRYPT_N})
    try:
        with httpx.Client(base_url=live.url, headers=version_headers()) as c:
            # A wrong password changes nothing.
            assert _login(c, "rep1", "d1", password="not the secret").status_code == 401
            assert _stored_hash(storage, org.rep1) == old
            assert _login(c, "rep1", "d1", password="an older long secret").status_code == 200
            new = _stored_hash(storage, org.rep1)
            assert new != old
            assert new.split("$")[1:4] == [str(auth.SCRYPT_N), "8", "1"]
            assert not auth.needs_rehash(new)
            # The same password still signs in, against the new hash, and it stays as it is.
            assert _login(c, "rep1", "d1", password="an older long secret").status_code == 200
            assert _stored_hash(storage, org.rep1) == new
            assert _login(c, "rep1", "d2", password="an older long secreT").status_code == 401
    finally:
        live.stop()
