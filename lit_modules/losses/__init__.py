"""Loss functions (plain PyTorch, never lightning): pure functions with shape docstrings."""
