"""The two exceptions the CLI turns into one clear line and exit code 2 instead of a traceback."""


class ConfigError(ValueError):
    """A configuration value is wrong or disagrees with the data; the message names the key."""


class DatasetError(ValueError):
    """A dataset on disk is missing, misplaced or malformed.

    Sources raise it instead of the library's own error (``FileNotFoundError`` from a scan,
    ``UnpicklingError``, PIL's ``UnidentifiedImageError``) so that callers catch one type, and
    its message always names the offending file or folder, what is wrong with it, and, where it
    helps, the expected layout and where to get the data. It subclasses ``ValueError`` because
    the input, not the code, is at fault.
    """
