"""The one shape of a progress callback, for every layer.

``progress(done, total, text)``: how many units are done, the total when it is known (``None``
while it is not), and one short line saying what is being done ("importing", "Checked 40 of 90
accounts"). The desktop's :class:`fieldrep.ui.tasks.Progress` has it as its ``report`` method, so
a service's callback can be handed ``progress.report`` as it is. Cancellation is not part of the
shape: a long job takes a ``cancelled`` callable or raises
:class:`fieldrep.domain.errors.Cancelled`.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int | None, str], None]

__all__ = ["Progress"]
