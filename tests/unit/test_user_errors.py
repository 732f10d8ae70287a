"""experiments.user_errors finds the user's ConfigError/DatasetError however it was wrapped."""

from torch._utils import ExceptionWrapper

from contracts.errors import ConfigError, DatasetError
from experiments.user_errors import user_error


def test_plain_chained_and_worker_forms():
    assert user_error(ConfigError("model.num_classes=5 but 8 classes")) == "model.num_classes=5 but 8 classes"
    try:
        try:
            raise DatasetError("/d/x.png: cannot be read as an image.")
        except DatasetError as e:
            raise RuntimeError("setup failed") from e
    except RuntimeError as wrapped:
        assert user_error(wrapped) == "/d/x.png: cannot be read as an image."
    try:
        raise DatasetError("/d/y.png: cannot be read as an image.")
    except DatasetError:
        reraised = ExceptionWrapper(where="in DataLoader worker process 0")
    try:
        reraised.reraise()
    except DatasetError as e:
        assert str(e).startswith("Caught DatasetError in DataLoader worker process 0")
        assert user_error(e) == "/d/y.png: cannot be read as an image."
    assert user_error(RuntimeError("a bug")) is None
