from django.db import models


class AnnotationSource(models.TextChoices):
    HUMAN = "human", "Human"
    MODEL = "model", "Model"
    IMPORT = "import", "Import"


class DecisionMethod(models.TextChoices):
    SINGLE = "single", "Single annotator"
    AGREEMENT = "agreement", "Annotators agreed"
    ADJUDICATION = "adjudication", "Adjudicated"
