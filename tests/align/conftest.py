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


@pytest.fixture
def single_thread():
    """Run on one torch thread (tiny models only lose time to threads on a busy CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
