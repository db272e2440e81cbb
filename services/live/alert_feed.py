"""What the collector's chore thread tells the alert outbox: episodes opened or turned
CRITICAL, suggestions left waiting, outcomes measured. Never on the tick's path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.alerts.items import anomaly_item, outcome_item, suggestion_item
from services.alerts.outbox import AlertOutbox
from services.core.vocabulary import InterventionStatus
from services.live.session_book import SessionBook
from services.storage.alert_settings import AlertKind
from services.storage.interventions import InterventionRecord


class AlertFeed:
    def __init__(self, outbox: AlertOutbox, book: SessionBook, public_url: str | None) -> None:
        self.outbox = outbox
        self.book = book
        self.public_url = public_url

    def _titles(self, session_id: str) -> tuple[str | None, str | None]:
        window = self.book.windows.get(session_id)
        return (window.session_title, window.event_title) if window is not None else (None, None)

    def episodes(
        self, opened: Sequence[dict[str, Any]], escalated: Sequence[dict[str, Any]]
    ) -> None:
        for row in opened:
            if row.get("event_id") is None:
                continue  # nobody to tell: alerts are set per event
            titles = self._titles(row["session_id"])
            self.outbox.offer(anomaly_item(row, AlertKind.ANOMALY_OPENED, *titles, self.public_url))
            if row["severity"] == "CRITICAL":
                self._critical(row)
        for row in escalated:
            if row.get("event_id") is not None and row["severity"] == "CRITICAL":
                self._critical(row)

    def _critical(self, row: dict[str, Any]) -> None:
        titles = self._titles(row["session_id"])
        self.outbox.offer(anomaly_item(row, AlertKind.ANOMALY_CRITICAL, *titles, self.public_url))

    def suggestion(self, record: InterventionRecord | None) -> None:
        if record is None or record.event_id is None:
            return
        if record.status == InterventionStatus.PENDING:
            titles = self._titles(record.session_id)
            self.outbox.offer(suggestion_item(record, *titles, self.public_url))

    def outcomes(self, records: Sequence[InterventionRecord]) -> None:
        for record in records:
            if record.event_id is not None and record.status == InterventionStatus.MEASURED:
                titles = self._titles(record.session_id)
                self.outbox.offer(outcome_item(record, *titles, self.public_url))
