"""The friendly panel a page shows until its real view lands: what it will do, plainly."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fieldrep.ui import icons, theme


class NotBuiltPanel(QWidget):
    """A centred card: the page's icon and title, "not built yet", and what will be there."""

    def __init__(
        self,
        title: str,
        icon_name: str,
        summary: str,
        plans: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("notBuiltPanel")
        card = QFrame()
        card.setObjectName("card")
        card.setMaximumWidth(620)

        icon_label = QLabel()
        icon_label.setPixmap(icons.icon(icon_name, theme.ACCENT).pixmap(QSize(40, 40)))
        title_label = QLabel(title)
        title_label.setObjectName("pageTitle")
        badge = QLabel("Not built yet")
        badge.setObjectName("badge")
        header = QHBoxLayout()
        header.setSpacing(14)
        header.addWidget(icon_label)
        header.addWidget(title_label)
        header.addStretch(1)
        header.addWidget(badge, 0, Qt.AlignmentFlag.AlignVCenter)

        self.summary_label = QLabel(summary)
        self.summary_label.setWordWrap(True)
        intro = QLabel("This page is not built yet. When it is, you will be able to:")
        intro.setObjectName("muted")
        intro.setWordWrap(True)

        layout = QVBoxLayout(card)
        layout.setContentsMargins(32, 28, 32, 32)
        layout.setSpacing(14)
        layout.addLayout(header)
        layout.addWidget(self.summary_label)
        layout.addSpacing(4)
        layout.addWidget(intro)
        bullets = QGridLayout()
        bullets.setContentsMargins(8, 0, 0, 0)
        bullets.setHorizontalSpacing(10)
        bullets.setVerticalSpacing(8)
        bullets.setColumnStretch(1, 1)
        for row, plan in enumerate(plans):
            # Bullet and text in separate cells, so a wrapped line stays indented under the text.
            bullet = QLabel("•")
            bullet.setObjectName("muted")
            text = QLabel(plan[:1].upper() + plan[1:])
            text.setWordWrap(True)
            bullets.addWidget(bullet, row, 0, Qt.AlignmentFlag.AlignTop)
            bullets.addWidget(text, row, 1)
        layout.addLayout(bullets)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(40, 40, 40, 40)
        outer.addStretch(1)
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(card, 3)
        centred.addStretch(1)
        outer.addLayout(centred)
        outer.addStretch(2)
