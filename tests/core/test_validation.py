import numpy as np
import pytest

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.validation import as_image_stack


def test_2d_image_becomes_a_one_plane_float_stack(rng):
    image = rng.integers(0, 255, (20, 30), dtype=np.uint8)
    stack = as_image_stack(image)
    assert stack.shape == (1, 20, 30)
    assert stack.dtype == np.float32
    np.testing.assert_array_equal(stack[0], image)


def test_leading_axes_are_flattened_into_planes(rng):
    assert as_image_stack(rng.normal(size=(2, 3, 16, 16))).shape == (6, 16, 16)


def test_input_is_never_modified_or_shared(rng):
    image = rng.normal(size=(16, 16)).astype(np.float32)
    stack = as_image_stack(image)
    stack += 1
    assert not np.shares_memory(stack, image)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.arange(10.0), "must be 2D"),
        (np.zeros((32, 32, 3)) + np.arange(3), "RGB"),
        (np.zeros((16, 16), dtype=bool), "labels, masks"),
        (np.full((16, 16), 7.0), "constant"),
    ],
)
def test_unusable_images_are_rejected_with_a_reason(image, message):
    with pytest.raises(InputError, match=message):
        as_image_stack(image)


def test_nan_and_inf_are_counted_in_the_message(rng):
    image = rng.normal(size=(16, 16))
    image[0, :3] = [np.nan, np.inf, -np.inf]
    with pytest.raises(InputError, match="3 NaN or infinite"):
        as_image_stack(image)


def test_too_small_image_names_the_minimum(rng):
    with pytest.raises(InputError, match=r"at least 64×64"):
        as_image_stack(rng.normal(size=(32, 80)), min_size=64)


def test_stack_refused_when_a_single_image_is_required(rng):
    with pytest.raises(InputError, match="single 2D image"):
        as_image_stack(rng.normal(size=(2, 16, 16)), allow_stack=False)
