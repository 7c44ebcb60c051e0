"""weightnet: learning on neural-network weights."""

from weightnet.errors import WeightnetError
from weightnet.weightspace import LayerSpec, SpecError, WeightSpace, WeightSpec

__all__ = [
    "LayerSpec",
    "SpecError",
    "WeightSpace",
    "WeightSpec",
    "WeightnetError",
    "load_pretrained",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``weightnet.load_pretrained`` without importing the metanets at ``import weightnet``."""
    if name == "load_pretrained":
        from weightnet.pretrained import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'weightnet' has no attribute {name!r}")
