"""Lightning tasks: one LightningModule per learning problem on weights."""

from weightnet.tasks.base import MetanetTask
from weightnet.tasks.generalization import GeneralizationTask

__all__ = ["MetanetTask", "GeneralizationTask"]
