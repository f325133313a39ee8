from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from highseas.notify.texts import render, render_lines


class Notification(models.Model):
    """An in-app message. ``dedupe_key`` makes "sent once" a database fact."""

    # ``notification_inbox`` (recipient, -created_at) leads with it and serves every look-up
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    customer = models.ForeignKey(
        "customers.Customer", models.CASCADE, null=True, blank=True, related_name="+"
    )
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # a system text's English template and facts (``notify.texts``); title/body keep the
    # text as written, in the organisation's language
    title_template = models.CharField(_("title template"), max_length=200, blank=True)
    body_template = models.CharField(_("body template"), max_length=200, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["recipient", "-created_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return self.title

    @property
    def shown_title(self) -> str:
        """The title in the reader's (active) language."""
        if not self.title_template:
            return self.title
        return render(self.title_template, self.params.get("title", {}))

    @property
    def shown_body(self) -> str:
        if "lines" in self.params:  # a digest: one line per group (``notify.digest``)
            return render_lines(self.params["lines"])
        if not self.body_template:
            return self.body
        facts = self.params.get("body", {})
        return render(self.body_template, facts, self.params.get("body_extra", ""))


class Delivery(models.Model):
    """The outbox: one notification to send on one channel (e-mail or webhook), written in the
    transaction that wrote the notification and sent later by a worker (``notify.outbox``).
    ``next_attempt_at`` is when it may be taken next: a worker that takes it pushes it a lease
    ahead, so no other worker takes it while it is being sent."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        WEBHOOK = "webhook", _("webhook")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    notification = models.ForeignKey(Notification, models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    target = models.CharField(_("target"), max_length=1000)  # the address or the URL
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="delivery_once_per_channel"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(state="pending"),
                name="delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.target}"


def default_time_zone() -> str:
    return str(settings.TIME_ZONE)


def default_language() -> str:
    return str(settings.LANGUAGE_CODE)


def default_digest_categories() -> list[str]:
    return ["recycle_warnings"]


class NotificationPreference(models.Model):
    """How one user hears of each category of notification (``notify.digest.CATEGORIES``):
    at once (inbox, and e-mail/webhook where enabled), or in one daily digest at
    ``digest_time`` in ``time_zone`` (inbox at once, unread; no e-mail or webhook of its own).
    ``next_digest_at`` is the next digest's moment (UTC); the digest job moves it on with a
    compare-and-set, so that one worker only sends each digest."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        primary_key=True,
        related_name="notification_preference",
    )
    digest_categories = models.JSONField(
        _("categories in the daily digest"), default=default_digest_categories, blank=True
    )
    digest_time = models.TimeField(_("digest time"), default=datetime.time(8, 30))
    time_zone = models.CharField(_("time zone"), max_length=64, default=default_time_zone)
    language = models.CharField(_("language"), max_length=10, default=default_language)
    email = models.BooleanField(_("e-mail"), default=True)
    webhook = models.BooleanField(_("webhook"), default=True)
    last_digest_at = models.DateTimeField(_("last digest at"), null=True, blank=True)
    next_digest_at = models.DateTimeField(_("next digest at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        indexes = [models.Index(fields=["next_digest_at"], name="notification_digest_due")]

    def __str__(self) -> str:
        return str(self.user)


class ReminderMark(models.Model):
    """How far the reminder job has looked (``notify.reminders``): every next contact and
    task due up to ``through`` was sent, and ``full_at`` is the job's last full pass (the
    whole look-back window, and the day's birthdays and dates). Both move forward only, each
    with a compare-and-set, so that workers running the job at once never move them back."""

    name = models.CharField(_("name"), max_length=40, primary_key=True)
    through = models.DateTimeField(_("sent through"))
    full_at = models.DateTimeField(_("last full pass"))

    class Meta:
        verbose_name = _("reminder mark")
        verbose_name_plural = _("reminder marks")

    def __str__(self) -> str:
        return f"{self.name}: {self.through.isoformat()}"
