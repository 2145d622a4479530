"""Paints a referral as a card on the pipeline board: one delegate for every card (no widget per
card: 50,000 referrals stay one list view per column)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from fieldrep.services.referrals.pipeline import Card
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_local_day
from fieldrep.ui.models.referral_board_model import CARD_ROLE

CARD_HEIGHT = 78
_FLAG_WORDS = {
    "self_referral": "self-referral",
    "duplicate_overridden": "dup. overridden",
    "already_customer": "customer",
}


class ReferralCardDelegate(QStyledItemDelegate):
    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(160, CARD_HEIGHT)  # the view gives each card its full width

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        card: Card | None = index.data(CARD_ROLE)
        if card is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(option.rect).adjusted(4, 3, -4, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QPen(QColor(theme.ACCENT if selected else theme.BORDER), 1.2))
        painter.setBrush(QColor(theme.ACCENT_SOFT if selected else theme.SURFACE))
        painter.drawRoundedRect(rect, 7, 7)
        if card.overdue:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.DANGER))
            painter.drawRoundedRect(QRectF(rect.left(), rect.top(), 4, rect.height()), 2, 2)
        inner = rect.adjusted(11, 6, -9, -6)
        base = QFont(option.font)
        bold = QFont(base)
        bold.setBold(True)
        line = QFontMetrics(base).height()
        metrics = QFontMetrics(base)
        # Line 1: the person, the whole width (what a rep scans for); line 2: company and flags;
        # line 3: owner and territory, with the value or the due date at its right.
        painter.setFont(bold)
        painter.setPen(QColor(theme.TEXT))
        first = QRectF(inner.left(), inner.top(), inner.width(), line)
        name = QFontMetrics(bold).elidedText(
            card.name, Qt.TextElideMode.ElideRight, int(first.width())
        )
        painter.drawText(first, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.setFont(base)
        second = card.company or (f"via {card.referrer}" if card.referrer else "")
        flags = [_FLAG_WORDS[f] for f in card.flags if f in _FLAG_WORDS]
        if flags:
            second = f"{second} · {', '.join(flags)}" if second else ", ".join(flags)
        painter.setPen(QColor(theme.WARNING if flags else theme.TEXT))
        painter.drawText(
            QRectF(inner.left(), inner.top() + line + 2, inner.width(), line),
            Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(second, Qt.TextElideMode.ElideRight, int(inner.width())),
        )
        right, right_colour = "", theme.TEXT_MUTED
        if card.amount:
            right, right_colour = f"${card.amount:,.0f}", theme.TEXT
        elif card.sla_due_at and card.stage not in ("won", "lost"):
            # the date alone: the red stripe and colour say overdue, and a narrow column keeps
            # room for the owner
            right = friendly_local_day(card.sla_due_at)
            right_colour = theme.DANGER if card.overdue else theme.TEXT_MUTED
        right_width = metrics.horizontalAdvance(right) + 8 if right else 0
        third_top = inner.top() + 2 * line + 4
        if right:
            painter.setPen(QColor(right_colour))
            painter.drawText(
                QRectF(inner.right() - right_width, third_top, right_width, line),
                Qt.AlignmentFlag.AlignRight,
                right,
            )
        third = " · ".join(p for p in (card.owner, card.territory) if p) or "not routed"
        painter.setPen(QColor(theme.TEXT_MUTED))
        painter.drawText(
            QRectF(inner.left(), third_top, inner.width() - right_width, line),
            Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(
                third, Qt.TextElideMode.ElideRight, int(inner.width() - right_width)
            ),
        )
        painter.restore()
