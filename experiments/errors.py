"""Errors that the CLI turns into one clear line and a non-zero exit instead of a traceback."""


class ConfigError(ValueError):
    """A configuration value is wrong or disagrees with the data; the message names the key."""
