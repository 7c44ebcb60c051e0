"""weightnet: learning on neural-network weights."""

from weightnet.errors import WeightnetError
from weightnet.weightspace import LayerSpec, SpecError, WeightSpace, WeightSpec

__all__ = ["LayerSpec", "SpecError", "WeightSpace", "WeightSpec", "WeightnetError"]
__version__ = "0.1.0"
