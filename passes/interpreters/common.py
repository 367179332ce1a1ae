"""What the interpreters share."""

import numpy as np

Arrays = dict[str, np.ndarray]


class CannotEvaluate(Exception):
    """The IR holds something an evaluator does not know; the message says what."""
