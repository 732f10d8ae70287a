"""ShapesWorld: the embedded procedural dataset, one seeded scene model with a label view per task."""
