"""Record who changed what: called explicitly by every action that changes stored data."""

from accounts.models import AuditEvent

MAX_SUMMARY = 500


def record(actor, action, target, summary, changes=None):
    """Append one audit event; `target` is a model instance (its type and id are kept)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:MAX_SUMMARY],
        changes=changes or {},
    )


def record_many(actor, action, target_type, summary, changes=None):
    """One event for a bulk change (an import of thousands of rows is one line, not thousands)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target_type,
        summary=summary[:MAX_SUMMARY],
        changes=changes or {},
    )
