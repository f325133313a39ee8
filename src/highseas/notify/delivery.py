"""The optional channels of a notification: e-mail and webhook, one ``Delivery`` of the outbox
at a time (``notify.outbox`` decides when; this module only sends).

``send`` never raises: it returns what went wrong, so that the outbox can retry it later and
the worker goes on with the next one. Each message carries its delivery's id so that a receiver
can recognise a repeat (an e-mail's ``Message-ID``, a webhook's ``Idempotency-Key``): a worker
killed between sending and recording it leaves the delivery to be sent again.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.utils import translation

from highseas.notify.models import Delivery, Notification
from highseas.notify.preferences import preferences_for

logger = logging.getLogger("highseas.notify")

WEBHOOK_TIMEOUT_SECONDS = 5


def channels_for(email: str) -> list[tuple[str, str]]:
    """The ``(channel, target)`` pairs the deployment enables for a recipient with ``email``."""
    found = []
    if settings.HIGHSEAS_EMAIL_NOTIFICATIONS and email:
        found.append((Delivery.Channel.EMAIL.value, email))
    if url := settings.HIGHSEAS_WEBHOOK_URL:
        found.append((Delivery.Channel.WEBHOOK.value, url))
    return found


def has_channels() -> bool:
    """Whether the deployment enabled any channel besides the in-app inbox."""
    return bool(settings.HIGHSEAS_EMAIL_NOTIFICATIONS or settings.HIGHSEAS_WEBHOOK_URL)


def idempotency_key(delivery: Delivery) -> str:
    return f"highseas-delivery-{delivery.pk}"


def send(delivery: Delivery) -> str | None:
    """Send one delivery; ``None`` when it went through, else what failed."""
    if delivery.channel == Delivery.Channel.EMAIL:
        return send_email(delivery)
    return post_webhook(delivery)


def send_email(delivery: Delivery) -> str | None:
    notification = delivery.notification
    reader = preferences_for([notification.recipient_id])[notification.recipient_id]
    with translation.override(reader.reader_language):  # in the recipient's chosen language
        subject, text = notification.shown_title, notification.shown_body
    message = EmailMessage(
        subject,
        text or subject,
        None,
        [delivery.target],
        headers={"Message-ID": f"<{idempotency_key(delivery)}@{DNS_NAME}>"},
    )
    try:
        message.send()
    except Exception as error:  # any mail backend's failure is retried, never raised
        logger.warning("e-mail for notification %s failed: %s", notification.pk, error)
        return f"{type(error).__name__}: {error}"
    return None


def webhook_payload(notification: Notification) -> dict[str, Any]:
    return {
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "recipient": notification.recipient_id,
        "customer": notification.customer_id,
        "created_at": notification.created_at.isoformat(),
    }


def post_webhook(delivery: Delivery) -> str | None:
    notification, url = delivery.notification, delivery.target
    if urlsplit(url).scheme not in ("http", "https"):
        return f"the webhook URL {url!r} is not http(s)"
    request = urllib.request.Request(
        url,
        data=json.dumps(webhook_payload(notification), ensure_ascii=False).encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "HighSeas",
            "Idempotency-Key": idempotency_key(delivery),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except (OSError, ValueError, http.client.HTTPException) as error:
        logger.warning("webhook for notification %s to %s failed: %s", notification.pk, url, error)
        return f"{type(error).__name__}: {error}"
    return None
