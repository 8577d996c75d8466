import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Shown to the user once; the database keeps only its SHA-256 (tokens are random, so a fast
# hash is enough, as for session keys) and an 8-character prefix to tell tokens apart.
TOKEN_BYTES = 30
TOKEN_PREFIX_LENGTH = 8


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """One API token of one user: it acts with that user's roles until revoked."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI import job'.")
    prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # accounts.authentication looks tokens up by hash, active ones only.
            models.Index(fields=["key_hash"], condition=Q(revoked_at__isnull=True), name="apitoken_active_hash_idx"),
        ]

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @staticmethod
    def hash_key(key):
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name):
        """Create a token; return (token, key) — the key is never stored and cannot be shown again."""
        key = secrets.token_urlsafe(TOKEN_BYTES)
        token = cls.objects.create(user=user, name=name, prefix=key[:TOKEN_PREFIX_LENGTH], key_hash=cls.hash_key(key))
        return token, key

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class AuditEvent(models.Model):
    """One change someone made: to an incident, a label, a decision, a taxonomy or a user."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=60, help_text="What happened, e.g. 'annotation.saved'.")
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page lists newest first, optionally for one kind of target.
            models.Index(fields=["-created_at"], name="auditevent_created_idx"),
            models.Index(fields=["target_type", "target_id"], name="auditevent_target_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor or 'system'}: {self.summary}"
