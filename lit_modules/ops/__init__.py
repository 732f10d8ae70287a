"""Thin operators and optimiser pieces in plain PyTorch (never lightning)."""
