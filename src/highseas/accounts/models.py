from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.models import get_digest_token
from knox.settings import CONSTANTS, knox_settings


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Sales manager")
    REP = "rep", _("Sales rep")


class Team(models.Model):
    """A node of the team tree; a manager sees the customers of the whole subtree.

    ``path`` is a materialized path (``/1/4/``) kept by ``save`` so that a subtree is one
    indexed prefix filter.
    """

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent team"),
    )
    manager = models.ForeignKey(
        "accounts.User",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
        verbose_name=_("manager"),
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        path = f"{self.parent.path if self.parent else '/'}{self.pk}/"
        if path != self.path:
            old_path = self.path
            Team.objects.filter(pk=self.pk).update(path=path)
            self.path = path
            if old_path:
                for child in Team.objects.filter(path__startswith=old_path).exclude(pk=self.pk):
                    child.save()


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.REP)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    team = models.ForeignKey(
        Team,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("team"),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def label(self) -> str:
        return self.display_name or self.username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER


class RepLevel(models.TextChoices):
    JUNIOR = "junior", _("Junior")
    SENIOR = "senior", _("Senior")


class RepProfile(models.Model):
    """How routing and limits see a rep: level, skills, availability, personal overrides."""

    user = models.OneToOneField(User, models.CASCADE, related_name="profile")
    level = models.CharField(
        _("level"), max_length=10, choices=RepLevel.choices, default=RepLevel.JUNIOR
    )
    skills = models.JSONField(
        _("skills"),
        default=dict,
        blank=True,
        help_text=_('{"industries": [...], "regions": [...], "product_lines": [...]}'),
    )
    is_active = models.BooleanField(_("active"), default=True)
    leave_from = models.DateField(_("on leave from"), null=True, blank=True)
    leave_until = models.DateField(_("on leave until"), null=True, blank=True)
    leave_cover = models.ForeignKey(
        User,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="covering_for",
        verbose_name=_("covered during the leave by"),
        help_text=_("Follows up the rep's customers during the leave, in pools that name one."),
    )
    holding_cap_override = models.PositiveIntegerField(
        _("holding cap override"), null=True, blank=True
    )
    daily_quota_override = models.PositiveIntegerField(
        _("daily claim quota override"), null=True, blank=True
    )
    weekly_quota_override = models.PositiveIntegerField(
        _("weekly claim quota override"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("rep profile")
        verbose_name_plural = _("rep profiles")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(leave_from__isnull=True)
                | models.Q(leave_until__isnull=True)
                | models.Q(leave_from__lte=models.F("leave_until")),
                name="rep_leave_range_ordered",
            )
        ]

    def __str__(self) -> str:
        return str(self.user)


class ApiTokenManager(models.Manager["ApiToken"]):
    def issue(self, user: User, *, device: str = "") -> tuple[ApiToken, str]:
        """A new token row and its secret, the way knox makes one (``TOKEN_TTL`` expiry)."""
        digest, secret = get_digest_token()
        ttl = knox_settings.TOKEN_TTL
        token = self.create(
            user=user,
            digest=digest,
            token_key=secret[: CONSTANTS.TOKEN_KEY_LENGTH],
            expiry=timezone.now() + ttl if ttl is not None else None,
            device=device,
        )
        return token, str(secret)


class ApiToken(models.Model):
    """One API token of one device: django-rest-knox's token model (the same fields and
    manager as its ``AbstractAuthToken``), swapped in by ``KNOX_TOKEN_MODEL``, plus an id, the
    device name and the last use.

    Only a SHA-512 hash of the secret is stored (``digest``) and its first characters to find
    it (``token_key``); the secret itself is shown once, when the token is issued.
    """

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)
    token_key = models.CharField(max_length=25, db_index=True)
    user = models.ForeignKey(User, models.CASCADE, related_name="auth_token_set")
    created = models.DateTimeField(auto_now_add=True)
    expiry = models.DateTimeField(null=True, blank=True)
    device = models.CharField(_("device"), max_length=100, blank=True)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    objects: ApiTokenManager = ApiTokenManager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.user} {self.device or self.pk}"


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: object) -> int:
        raise AuditLogIsAppendOnly

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly


class AuditLogIsAppendOnly(Exception):
    """An audit row was about to be changed or deleted: the log is append-only."""


class AuditLog(models.Model):
    """Who did what, when (SPEC §13): append-only, one row per audited action.

    ``save()`` of an existing row, ``delete()`` and queryset ``update()`` / ``delete()`` raise
    ``AuditLogIsAppendOnly``; ``accounts.audit.record_audit`` is the writer.
    """

    class Action(models.TextChoices):
        REVEAL = "reveal", _("Revealed a masked field")
        EXPORT = "export", _("Exported data")
        PERMISSION_DENIED = "permission_denied", _("Permission denied")
        POLICY_CHANGE = "policy_change", _("Changed a policy")
        CAP_OVERRIDE = "cap_override", _("Overrode a holding cap")
        LOGIN_FAILED = "login_failed", _("Failed login")
        CUSTOMER_EDIT = "customer_edit", _("Changed a customer's level or stage")
        IMPORT = "import", _("Imported data")
        EXACT_LOOKUP = "exact_lookup", _("Looked up an exact identifier")
        LOOKUP_LIMIT = "lookup_limit", _("Reached the exact-lookup limit")
        ROLE_CHANGE = "role_change", _("Changed a role")
        PASSWORD_CHANGE = "password_change", _("Changed a password")
        USER_DEACTIVATED = "user_deactivated", _("Deactivated a user")
        TOKEN_ISSUE = "token_issue", _("Issued an API token")
        TOKEN_REVOKE = "token_revoke", _("Revoked API tokens")
        LOGIN_LOCKED = "login_locked", _("Sign-in locked after failed attempts")
        KEY_ROTATION = "key_rotation", _("Rotated the encryption key")
        USER_CREATE = "user_create", _("Created a user")
        USER_CHANGE = "user_change", _("Changed a user")
        TEAM_CREATE = "team_create", _("Created a team")
        TEAM_CHANGE = "team_change", _("Changed a team")
        PROFILE_CHANGE = "profile_change", _("Changed a rep profile")

    actor = models.ForeignKey(
        User, models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=50, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly
