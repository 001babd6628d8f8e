"""Images shaped like the corpora: a word (about 3:1) and a text line (about 19:1)."""

import numpy as np
import pytest
from figure_samples import ink_image



@pytest.fixture
def word() -> np.ndarray:
    return ink_image(48, 150)


@pytest.fixture
def line() -> np.ndarray:
    return ink_image(64, 1200)

