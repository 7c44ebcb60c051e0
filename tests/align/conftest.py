import pytest
import torch

from weightnet.functional import forward


def _assert_same_function(spec, expected, actual, input_shape, atol=1e-5):
    """The networks of ``actual`` compute those of ``expected`` on 13 seeded Gaussian inputs."""
    x = torch.randn(13, *input_shape, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(
        forward(spec, actual, x.to(actual.dtype)),
        forward(spec, expected, x.to(expected.dtype)),
        atol=atol,
        rtol=atol,
    )


@pytest.fixture
def assert_same_function():
    """``assert_same_function(spec, expected_ws, actual_ws, input_shape, atol=1e-5)``."""
    return _assert_same_function
