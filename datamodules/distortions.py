"""LeNet-5's "distortions" (LeCun et al. 1998, Sec. III.C): random planar affine warps of the training images.

The paper: "combinations of the following planar affine transformations: horizontal and vertical
translations, scaling, squeezing (simultaneous horizontal compression and vertical elongation, or the
reverse), and horizontal shearing" (0.95 % -> 0.8 % MNIST test error). It gives no ranges; the defaults
below are small, digit-preserving ones: +-2 px of 32, scale 0.9-1.1, squeeze 0.9-1.1, shear +-0.15.

Hand-written because torchvision's ``v2.RandomAffine`` has no squeeze (its scale is isotropic) and draws one
transform per call. Vectorised: one ``affine_grid`` + ``grid_sample`` for a whole batch (one matrix per image), so the
cost is a few per cent of a LeNet step where per-image v2 transforms would cost about as much as the step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class AffineDistort:
    """Random translation, scaling, squeezing and horizontal shear, one draw per image.

    Args:
        translate: largest shift, as a fraction of the side (0.0625 = 2 px of 32).
        scale: (low, high) of the isotropic scale factor.
        squeeze: (low, high) of the anisotropic factor: x scaled by ``s``, y by ``1/s``.
        shear: largest horizontal shear (x += shear * y).

    Call on float images ``(B, C, H, W)`` or ``(C, H, W)``; borders are filled by repeating the edge
    pixels (ShapesWorld's flat background, MNIST's black), output the same shape and dtype.
    """

    def __init__(self, translate: float = 0.0625, scale: tuple[float, float] = (0.9, 1.1),
                 squeeze: tuple[float, float] = (0.9, 1.1), shear: float = 0.15) -> None:
        self.translate, self.scale, self.squeeze, self.shear = translate, scale, squeeze, shear

    def matrices(self, n: int) -> Tensor:
        """``(n, 2, 3)`` affine matrices in ``affine_grid``'s normalised coordinates (output -> input)."""
        u = lambda lo, hi: torch.empty(n).uniform_(lo, hi)
        s = u(*self.scale)
        q = u(*self.squeeze)
        sh = u(-self.shear, self.shear)
        tx, ty = u(-2 * self.translate, 2 * self.translate), u(-2 * self.translate, 2 * self.translate)  # [-1, 1] spans the side
        # forward map A = diag(s q, s / q) @ [[1, sh], [0, 1]]; affine_grid samples input at A^-1 (out - t)
        fwd = torch.zeros(n, 2, 2)
        fwd[:, 0, 0], fwd[:, 0, 1], fwd[:, 1, 1] = s * q, s * q * sh, s / q
        inv = torch.linalg.inv(fwd)
        t = torch.stack([tx, ty], 1).unsqueeze(-1)  # (n, 2, 1)
        return torch.cat([inv, -inv @ t], 2)

    def __call__(self, images: Tensor) -> Tensor:
        single = images.ndim == 3
        x = images.unsqueeze(0) if single else images
        x = x.float() if not x.is_floating_point() else x
        grid = F.affine_grid(self.matrices(len(x)).to(x), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        out = out.to(images.dtype) if images.is_floating_point() else out.round().clamp(0, 255).to(images.dtype)
        return out[0] if single else out
