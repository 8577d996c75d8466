from django.db import models


class Severity(models.IntegerChoices):
    SEV0 = 0, "SEV0 (critical)"
    SEV1 = 1, "SEV1 (major)"
    SEV2 = 2, "SEV2 (minor)"
    SEV3 = 3, "SEV3 (low)"
    SEV4 = 4, "SEV4 (informational)"


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    POSTMORTEM = "postmortem", "Postmortem published"

    @classmethod
    def implied_by(cls, resolved_at):
        """The status of an incident given without one: resolved once it has a resolution time.

        One rule for imports and the API, so the same record gets the same status either way.
        """
        return cls.RESOLVED if resolved_at else cls.INVESTIGATING


class UpdateStage(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    UPDATE = "update", "Update"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    POSTMORTEM = "postmortem", "Postmortem"


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    EMBEDDING = "embedding", "Embedding"
    MULTIMODAL = "multimodal", "Multimodal"
