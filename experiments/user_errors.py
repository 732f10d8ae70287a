"""Find the user's mistake (a ``ConfigError`` or ``DatasetError``) inside whatever reached ``main``.

Such an error may arrive wrapped: chained as the ``__cause__``/``__context__`` of another
exception, or re-raised by a DataLoader from a worker process. Torch's re-raise keeps the type
but replaces the message with ``"Caught DatasetError in DataLoader worker process 0.\\nOriginal
Traceback ..."`` plus the worker's whole traceback; only the original message is the user's news.
"""

from __future__ import annotations

from contracts.errors import ConfigError, DatasetError

USER_ERRORS = (ConfigError, DatasetError)


def _worker_message(text: str) -> str | None:
    """The original message inside torch's worker re-raise text, or None when it is not one."""
    for cls in USER_ERRORS:
        # The worker's traceback ends with the exception it raised, written (by
        # traceback.format_exception) under its module and qualified name.
        marker = f"{cls.__module__}.{cls.__qualname__}: "
        if text.startswith(f"Caught {cls.__name__} ") and marker in text:
            return text.rsplit(marker, 1)[1].strip()
    return None


def user_error(exc: BaseException) -> str | None:
    """The message of the first ``ConfigError``/``DatasetError`` in ``exc``'s chain, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        inner = _worker_message(text)
        if inner is not None:
            return inner
        if isinstance(current, USER_ERRORS):
            return text
        current = current.__cause__ or current.__context__
    return None
