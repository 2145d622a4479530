"""A day with times: appointment windows, visit lengths and an end of shift, planned with VROOM.

pyvroom (BSD-2) solves the vehicle-routing problem with time windows for one rep: it orders the
stops, starts each visit inside its window, and leaves out (and names) the stops that cannot fit
before the shift ends. Travel times are the straight-line estimate of :mod:`fieldrep.geo.routing`
(distance x road factor at an average speed), so a plan is only as good as that estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldrep.geo.routing import AVERAGE_SPEED_KMH, ROAD_FACTOR


@dataclass(frozen=True)
class TimedResult:
    order: list[int]  # node indices (1..n) in visiting order
    arrivals: list[int]  # seconds after midnight at which each visit in ``order`` starts
    unassigned: list[int]  # nodes that do not fit
    end: int  # seconds after midnight back at the start (round trip) or at the last stop


def travel_seconds(distance_m: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Straight-line metres -> estimated driving seconds (road factor, average speed)."""
    return np.rint(distance_m * ROAD_FACTOR / (AVERAGE_SPEED_KMH / 3.6)).astype(np.int64)


def solve_timed(
    distance_m: np.ndarray[Any, Any],
    service_s: Sequence[int],
    windows: Sequence[tuple[int, int] | None],
    shift: tuple[int, int],
    *,
    round_trip: bool,
) -> TimedResult:
    """Node 0 is the start; nodes 1..n the stops, each with a visit length and maybe a window
    (seconds after midnight). The plan starts no earlier than ``shift[0]`` and ends by ``shift[1]``."""
    import vroom  # imported when a timed plan is asked for: it brings pandas (~0.5 s)

    durations = travel_seconds(distance_m)
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=durations)
    problem.add_vehicle(
        vroom.Vehicle(
            id=0,
            start=0,
            end=0 if round_trip else None,
            time_window=vroom.TimeWindow(*shift),
        )
    )
    for node in range(1, len(durations)):
        window = windows[node - 1]
        problem.add_job(
            vroom.Job(
                id=node,
                location=node,
                default_service=int(service_s[node - 1]),
                time_windows=[vroom.TimeWindow(*window)] if window else (),
                # An appointment is a promise: when not everything fits, drop open visits first.
                priority=100 if window else 0,
            )
        )
    solution = problem.solve(exploration_level=5, nb_threads=1).to_dict()
    steps = solution["routes"][0]["steps"] if solution["routes"] else []
    jobs = [s for s in steps if s["type"] == "job"]
    ends = [s["arrival"] for s in steps if s["type"] == "end"]
    # VROOM's arrival is when the rep gets there; a visit starts after any wait for its window.
    return TimedResult(
        order=[int(s["id"]) for s in jobs],
        arrivals=[int(s["arrival"]) + int(s.get("waiting_time", 0)) for s in jobs],
        unassigned=sorted(int(u["id"]) for u in solution.get("unassigned", [])),
        end=int(ends[0]) if ends else (int(jobs[-1]["arrival"]) if jobs else shift[0]),
    )
