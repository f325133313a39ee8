"""The optional channels of a notification that already exists in the app: e-mail and webhook.

A channel that fails is logged on ``highseas.notify`` and never raised: the in-app row is the
record, and a mail server or a receiver being down must not break the work that notified.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail

from highseas.notify.models import Notification

logger = logging.getLogger("highseas.notify")

WEBHOOK_TIMEOUT_SECONDS = 5


def has_channels() -> bool:
    """Whether the deployment enabled any channel besides the in-app inbox."""
    return bool(settings.HIGHSEAS_EMAIL_NOTIFICATIONS or settings.HIGHSEAS_WEBHOOK_URL)


def deliver(notification: Notification) -> None:
    """Send ``notification`` on every channel the deployment enabled."""
    if settings.HIGHSEAS_EMAIL_NOTIFICATIONS:
        send_email(notification)
    if url := settings.HIGHSEAS_WEBHOOK_URL:
        post_webhook(notification, url)


def send_email(notification: Notification) -> None:
    address = notification.recipient.email
    if not address:
        return
    try:
        send_mail(notification.title, notification.body or notification.title, None, [address])
    except Exception:
        logger.exception("e-mail for notification %s to %s failed", notification.pk, address)


def webhook_payload(notification: Notification) -> dict[str, Any]:
    return {
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "recipient": notification.recipient_id,
        "customer": notification.customer_id,
        "created_at": notification.created_at.isoformat(),
    }


def post_webhook(notification: Notification, url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        logger.warning(
            "webhook URL %r is not http(s); notification %s not posted", url, notification.pk
        )
        return
    request = urllib.request.Request(
        url,
        data=json.dumps(webhook_payload(notification), ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "HighSeas"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except (OSError, ValueError, http.client.HTTPException) as error:
        logger.warning("webhook for notification %s to %s failed: %s", notification.pk, url, error)
