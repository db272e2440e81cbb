"""Alerts out of band: organisers who are not watching hear of an event's anomalies, waiting
suggestions and measured outcomes by e-mail and signed webhooks, grouped per event and minute,
retried with backoff, dead-lettered when they cannot be delivered (docs/alerts.md)."""
