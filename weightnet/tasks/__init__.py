"""Lightning tasks: one LightningModule per learning problem on weights."""

from weightnet.tasks.alignment import AlignmentTask
from weightnet.tasks.base import MetanetTask
from weightnet.tasks.generalization import GeneralizationTask
from weightnet.tasks.inr_classification import InrClassificationTask
from weightnet.tasks.inr_editing import InrEditingTask

__all__ = [
    "AlignmentTask",
    "MetanetTask",
    "GeneralizationTask",
    "InrClassificationTask",
    "InrEditingTask",
]
