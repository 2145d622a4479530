"""Numpy arrays -> Qt geometry without a Python loop per vertex.

A QPainterPath of 200,000 vertices built point by point costs ~0.3 s of Python; read from the byte
layout QDataStream uses for a path (what pyqtgraph's ``arrayToQPath`` does) it takes a few ms.
The layout (Qt 5 and 6): int32 element count, then per element int32 type (0 move, 1 line) and two
float64 coordinates, then int32 ``cStart`` and int32 fill rule, all big-endian.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QDataStream
from PySide6.QtGui import QPainterPath

_ELEMENT = np.dtype([("type", ">i4"), ("x", ">f8"), ("y", ">f8")])


def rings_path(
    xy: np.ndarray[Any, Any], starts: np.ndarray[Any, Any], *, close: bool = True
) -> QPainterPath:
    """One path of many rings: ``xy`` (n, 2) screen coordinates, ``starts`` the index where each
    ring begins (a move-to). Rings are closed by repeating their first vertex when ``close``."""
    n = len(xy)
    if n == 0:
        return QPainterPath()
    if close:
        ends = np.append(starts[1:], n)
        xy = np.insert(xy, ends, xy[starts], axis=0)
        starts = starts + np.arange(len(starts))
        n = len(xy)
    elements = np.empty(n, dtype=_ELEMENT)
    elements["type"] = 1
    elements["type"][starts] = 0
    elements["x"] = xy[:, 0]
    elements["y"] = xy[:, 1]
    header = np.array([n], dtype=">i4").tobytes()
    footer = np.array([0, 0], dtype=">i4").tobytes()  # cStart, Qt::OddEvenFill
    path = QPainterPath()
    stream = QDataStream(QByteArray(header + elements.tobytes() + footer))
    stream >> path
    return path
