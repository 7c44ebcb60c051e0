"""Lightning tasks: one LightningModule per learning problem on weights."""

from weightnet.tasks.alignment import AlignmentTask
from weightnet.tasks.base import MetanetTask
from weightnet.tasks.generalization import GeneralizationTask

__all__ = ["AlignmentTask", "MetanetTask", "GeneralizationTask"]
