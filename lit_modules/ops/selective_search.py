"""Selective search (Uijlings 2013) region proposals, from OpenCV contrib's ``ximgproc.segmentation``.

R-CNN and Fast R-CNN take their regions from here. OpenCV's is the maintained implementation of
the paper's hierarchical grouping (the "fast" mode is R-CNN's: two colour spaces, four strategy
combinations); it needs ``opencv-contrib-python-headless`` in place of the plain wheel (the
Makefile's ``setup`` installs it). Proposals are data: ``datamodules.proposals`` caches them once.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from contracts.errors import ConfigError

SSMode = Literal["fast", "quality", "single"]


def _segmentation():
    import cv2

    if not hasattr(cv2, "ximgproc"):
        raise ConfigError("selective search needs OpenCV contrib (cv2.ximgproc): run `make setup`, which installs "
                          "opencv-contrib-python-headless of the same version over opencv-python-headless")
    cv2.setNumThreads(1)  # the caller's slot: one thread
    return cv2.ximgproc.segmentation


def selective_search(image: Tensor, mode: SSMode = "fast", max_boxes: int = 2000, min_side: float = 2.0,
                     k: int | None = None, scale: float = 1.0) -> Tensor:
    """Region proposals of one image, in OpenCV's order (most "object-like" hierarchy levels first).

    Args:
        image: ``(3, H, W)`` RGB, uint8 or float in [0, 1].
        mode: "fast" (R-CNN's setting), "quality" (more colour spaces and seeds, ~3x the time and
            boxes) or "single" (one strategy: a quick, lower-recall variant).
        max_boxes: keep the first ``max_boxes`` (R-CNN: ~2000 an image).
        min_side: drop boxes thinner than this (pixels; OpenCV returns 1-px slivers).
        k: the graph segmentation's threshold (Felzenszwalb's k; "fast" / "quality": the first
            segmentation's and the step between them, OpenCV's 150; "single": OpenCV's 200). Smaller:
            more, smaller initial regions, so more boxes. None: OpenCV's defaults.
        scale: the image is resized by this before the search (bilinear) and the boxes mapped back:
            on small images, the pixels (and so the regions and boxes) of a larger one.

    Returns:
        ``(N, 4)`` float32 xyxy pixels, N may be 0 (a flat image): callers count those.
    """
    if image.dtype != torch.uint8:
        image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    bgr = image.flip(0).permute(1, 2, 0).contiguous().numpy()  # (H, W, 3) BGR, as OpenCV wants
    seg = _segmentation()
    if scale != 1.0:
        import cv2

        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    ss = seg.createSelectiveSearchSegmentation()
    ss.setBaseImage(bgr)
    switch = {"fast": ss.switchToSelectiveSearchFast, "quality": ss.switchToSelectiveSearchQuality,
              "single": ss.switchToSingleStrategy}[mode]
    if k is None:
        switch()
    elif mode == "single":
        switch(k)
    else:
        switch(k, k)  # base k and its step
    rects = ss.process()  # (N, 4) x, y, w, h
    boxes = torch.as_tensor(rects, dtype=torch.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    if scale != 1.0:
        boxes /= scale
    keep = ((boxes[:, 2:] - boxes[:, :2]) >= min_side).all(1)
    return boxes[keep][:max_boxes]
