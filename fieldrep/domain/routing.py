"""Who in a territory gets the next lead: weighted round robin or least-loaded, with capacity.

Weighted round robin is done as proportionate-fair earliest-deadline-first (Baruah, Cohen, Plaxton &
Varvel 1996, "Proportionate progress"): member ``i`` with share ``s_i = w_i/W`` owes its ``k``-th lead
by step ``ceil(k/s_i)`` and may take it once ``c_i < (n+1)*s_i``; the eligible member with the earliest
deadline wins. On one "processor" (one lead at a time) this keeps every member's count strictly within
one lead of its weighted share ``n*s_i`` after every lead, and leads interleave instead of arriving in
bursts. nginx's smooth weighted round robin, the obvious alternative, drifts up to ~1.04 leads with
fractional weights (measured), so it does not meet the "within one lead" promise.

The state is just the number of leads each member has received (exact fractions, no float drift),
which the service rebuilds from the assignment history; no hidden counter survives a restart or sync.

Least-loaded picks the member with the lowest open load per unit of weight.

A member at capacity (open load >= capacity) is skipped; when nobody can take the lead it goes to the
fallback owner. Every choice comes with the sentence that explains it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

POLICIES = ("round_robin", "least_loaded")


@dataclass
class Member:
    user_id: str
    name: str = ""
    weight: float = 1.0
    capacity: int | None = None
    load: int = 0  # open accounts/referrals now
    received: int = 0  # leads routed to this member so far (the round-robin state)

    @property
    def label(self) -> str:
        return self.name or self.user_id

    def has_room(self) -> bool:
        return self.capacity is None or self.load < self.capacity


@dataclass(frozen=True)
class Choice:
    user_id: str | None
    reason: str


class Router:
    """Routes a sequence of leads among one territory's members; mutates their counters as it goes."""

    def __init__(
        self,
        members: Sequence[Member],
        *,
        policy: str = "round_robin",
        fallback_owner: str | None = None,
        fallback_name: str = "",
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"routing policy must be one of {POLICIES}, not {policy!r}")
        self.members = list(members)
        self.policy = policy
        self.fallback_owner = fallback_owner
        self.fallback_name = fallback_name or (fallback_owner or "")

    def eligible(self) -> list[Member]:
        return [m for m in self.members if m.weight > 0 and m.has_room()]

    def choose(self) -> Choice:
        candidates = self.eligible()
        if not candidates:
            full = [m.label for m in self.members if m.weight > 0 and not m.has_room()]
            why = (
                f"all members are at capacity ({', '.join(full)})"
                if full
                else "the territory has no member with routing weight"
            )
            if self.fallback_owner:
                return Choice(
                    self.fallback_owner, f"{why}; went to the fallback owner {self.fallback_name}"
                )
            return Choice(None, f"{why} and there is no fallback owner")
        if self.policy == "least_loaded":
            chosen = min(candidates, key=lambda m: (m.load / m.weight, -m.weight, m.user_id))
            reason = (
                f"least loaded: {chosen.label} has {chosen.load} open item(s) at weight "
                f"{chosen.weight:g}"
            )
        else:
            chosen = self._pfair_pick(candidates)
            total = sum(m.weight for m in candidates)
            reason = (
                f"weighted round robin: {chosen.label} (weight {chosen.weight:g} of "
                f"{total:g}) had received {chosen.received} of "
                f"{sum(m.received for m in self.members)} leads"
            )
        skipped = [m.label for m in self.members if m.weight > 0 and not m.has_room()]
        if skipped:
            reason += f"; skipped at capacity: {', '.join(skipped)}"
        chosen.received += 1
        chosen.load += 1
        return Choice(chosen.user_id, reason)

    def _pfair_pick(self, candidates: list[Member]) -> Member:
        weights = {m.user_id: Fraction(m.weight) for m in candidates}
        total = sum(weights.values())
        n = sum(m.received for m in candidates)
        share = {uid: w / total for uid, w in weights.items()}
        eligible = [m for m in candidates if m.received < (n + 1) * share[m.user_id]]
        # Empty only when weights or capacity changed mid-stream; then the earliest deadline decides.
        pool = eligible or candidates

        def deadline(m: Member) -> tuple[int, Fraction, str]:
            return (math.ceil((m.received + 1) / share[m.user_id]), -share[m.user_id], m.user_id)

        return min(pool, key=deadline)
