"""``paperlab predict --config FILE --ckpt_path CKPT``: a checkpoint's predictions in standard file formats
(experiments.predict.predict; the formats in experiments.predict.formats)."""

from experiments.predict.predict import main

__all__ = ["main"]
