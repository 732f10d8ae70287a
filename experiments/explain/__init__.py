"""``paperlab explain``: saliency, CAM/Grad-CAM, occlusion, guided backprop, class visualisation,
inversion, DeepDream, adversarial and fooling images and feature embeddings of a classification
checkpoint, each measured on ShapesWorld against its trivial baseline (experiments.explain.explain)."""

from experiments.explain.explain import main

__all__ = ["main"]
