"""What the library and the runner share, in leaf modules that import nothing of the project.

``errors`` (the two exceptions the CLI turns into one line), ``hooks`` (the optional methods the
runner looks for on modules and datamodules), ``vocab`` (the captioning vocabulary the data builds
and the model stores) and ``batches`` (checks of a family's batch contract). ``lit_modules``,
``datamodules`` and ``experiments`` all import from here; this package imports only the
standard library and torch.
"""
