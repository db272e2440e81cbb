"""Delivering one message to one recipient: e-mail over SMTP (settings from the environment) and
signed webhooks over HTTP. A failure raises `DeliveryFailed`, saying whether a retry can help."""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

from services.alerts.messages import SIGNATURE_HEADER, signature


class DeliveryFailed(Exception):
    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(reason)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str | None
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 10.0


class EmailSender:
    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp

    def send(self, to: str, subject: str, text: str) -> None:
        smtp = self.smtp
        if smtp.host is None:
            raise DeliveryFailed("no SMTP server is configured (SMTP_HOST)", retry=False)
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as server:
                if smtp.starttls:
                    server.starttls()
                if smtp.username and smtp.password:
                    server.login(smtp.username, smtp.password)
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryFailed("the mail server refused the address", retry=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            # The class and code only: an SMTP reply may quote what we sent.
            code = getattr(exc, "smtp_code", None)
            raise DeliveryFailed(f"{type(exc).__name__}" + (f" {code}" if code else "")) from None


class WebhookSender:
    def __init__(self, timeout_seconds: float = 5.0, allow_private: bool = False) -> None:
        self.timeout_seconds = timeout_seconds
        # A producer's URL must not reach into the deployment's own network (SSRF).
        self.allow_private = allow_private

    def _check_address(self, url: str) -> None:
        host = urllib.parse.urlsplit(url).hostname or ""
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            raise DeliveryFailed("unreachable (the host name does not resolve)") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global and not self.allow_private:
                raise DeliveryFailed(
                    "refused: the URL names a private address (ALERT_WEBHOOKS_PRIVATE)",
                    retry=False,
                )

    def send(self, url: str, body: bytes, secret: str, timestamp: str) -> None:
        self._check_address(url)
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "engagement-conductor-alerts",
                SIGNATURE_HEADER: signature(secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:
                answer.read(1024)
        except urllib.error.HTTPError as exc:
            # 4xx other than 408/429 will not get better by trying again.
            retry = exc.code >= 500 or exc.code in (408, 429)
            raise DeliveryFailed(f"HTTP {exc.code}", retry=retry) from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"unreachable ({type(reason).__name__})") from None
