"""A laptop signed in before the clock-tag upgrade (issue 13) learns its tag at its next sync, not
only at its next sign-in: every pull page that is no reset carries it for clients of protocol 2
and later; protocol-1 clients never see the field."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from fieldrep.store import local_meta
from fieldrep.sync import local_apply
from fieldrep.sync.protocol import PROTOCOL_HEADER, PullResponse, version_headers
from tests.sync.harness import PASSWORD, Laptop, LiveServer, Org

Make = Callable[[str], Laptop]


def test_a_pull_page_carries_the_devices_clock_tag_for_protocol_2_clients(
    org: Org, server: LiveServer
) -> None:
    body = {"user": "rep1", "password": PASSWORD, "device_id": "tagged-laptop"}
    with httpx.Client(base_url=server.url) as c:
        login = c.post("/v1/login", json=body, headers=version_headers()).json()
        auth = {"Authorization": f"Bearer {login['token']}"}
        new = c.post("/v1/pull", json={"cursor": 0}, headers={**version_headers(), **auth})
        got = c.get("/v1/pull", params={"cursor": 0}, headers={**version_headers(), **auth})
        old_headers = {**version_headers(), PROTOCOL_HEADER: "1", **auth}
        old = c.post("/v1/pull", json={"cursor": 0}, headers=old_headers)
        page = new.json()
        # A reset page leaves it out: protocol-2 clients that predate the field validate resets.
        reset = c.post(
            "/v1/pull",
            json={"cursor": page["cursor"], "scope_key": "another scope"},
            headers={**version_headers(), **auth},
        ).json()
    assert login["clock_tag"].startswith("t")
    assert page["clock_tag"] == got.json()["clock_tag"] == login["clock_tag"]
    assert PullResponse.model_validate(page).clock_tag == login["clock_tag"]
    assert "clock_tag" not in old.json()  # a protocol-1 laptop is not told
    assert reset["reset"] is not None
    assert "clock_tag" not in reset


def test_a_laptop_signed_in_before_clock_tags_learns_its_tag_at_its_next_sync(
    org: Org, laptop: Make
) -> None:
    rep = laptop("rep1")
    rep.login("rep1")
    conn = rep.ctx.db.conn
    told_at_sign_in = local_meta.get(conn, local_apply.CLOCK_TAG_KEY)
    assert told_at_sign_in
    # As a laptop that signed in before the upgrade: it never heard its tag.
    with rep.writer.transaction() as tx:
        local_meta.put(tx, local_apply.CLOCK_TAG_KEY, None)
    rep.sync()
    assert local_meta.get(conn, local_apply.CLOCK_TAG_KEY) == told_at_sign_in
    assert local_meta.get(conn, local_apply.CLOCK_TAG_KEY) != rep.writer.device_id
