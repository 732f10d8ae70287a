"""R-CNN's per-class linear SVMs on fc7 features, trained with hard-negative mining (Girshick 2014, section 2.3).

scikit-learn's ``LinearSVC`` (liblinear, hinge loss) does the fitting. For class c the positives are
the ground-truth boxes of c, the negatives every proposal overlapping no box of c by IoU >= 0.3;
mining starts from a random set of negatives and adds, each round, those the current SVM scores
inside the margin (> -1), as the paper's "hard negatives".
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import box_iou


def class_overlaps(proposals: Tensor, boxes: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``(P, K)``: each proposal's best IoU with an object of class k (0 where the image has none)."""
    out = proposals.new_zeros(len(proposals), num_classes)
    if len(boxes) and len(proposals):
        iou = box_iou(proposals, boxes)  # (P, G)
        for k in labels.unique().tolist():
            out[:, k - 1] = iou[:, labels == k].max(1).values
    return out


def train_svms(pos: Tensor, pos_labels: Tensor, neg: Tensor, neg_iou: Tensor, num_classes: int, *, C: float = 1e-3,
               pos_weight: float = 2.0, neg_iou_max: float = 0.3, first_negatives: int = 5000, rounds: int = 2,
               max_hard: int = 5000,
               seed: int = 0) -> tuple[Tensor, Tensor, dict[str, float]]:
    """One linear SVM per class.

    Args:
        pos: ``(P, D)`` features of ground-truth boxes. pos_labels: ``(P,)`` their classes 1..K.
        neg: ``(N, D)`` features of proposals. neg_iou: ``(N, K)`` each proposal's best IoU with a box of class k.
        num_classes: K. C: liblinear's C (paper: 1e-3, features scaled to mean norm 20).
        pos_weight: weight of positive examples' loss (paper: 2). neg_iou_max: negatives overlap less (paper 0.3).
        first_negatives: random negatives in the first fit. rounds: mining rounds after it.
        max_hard: hard negatives added a round at most (the highest-scoring ones).

    Returns:
        weights ``(K, D)``, biases ``(K,)`` (score = f · w + b), and statistics (hard negatives added).
    """
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(seed)
    P, N = pos.numpy(), neg.numpy()
    w, b, added = np.zeros((num_classes, P.shape[1]), np.float32), np.zeros(num_classes, np.float32), 0
    for k in range(num_classes):
        xp = P[pos_labels.numpy() == k + 1]
        pool = np.where(neg_iou[:, k].numpy() < neg_iou_max)[0]
        if len(xp) == 0 or len(pool) == 0:
            continue
        active = rng.choice(pool, min(first_negatives, len(pool)), replace=False)
        for r in range(rounds + 1):
            svm = LinearSVC(C=C, class_weight={1: pos_weight, 0: 1.0}, max_iter=5000, dual=True)
            x = np.concatenate([xp, N[active]])
            y = np.concatenate([np.ones(len(xp)), np.zeros(len(active))])
            svm.fit(x, y)
            if r == rounds:
                break
            scores = N[pool] @ svm.coef_[0] + svm.intercept_[0]
            fresh = ~np.isin(pool, active) & (scores > -1.0)  # inside the margin and not yet trained on
            hard = pool[fresh][np.argsort(-scores[fresh])[:max_hard]]
            if len(hard) == 0:
                break
            added += len(hard)
            active = np.concatenate([active, hard])
        w[k], b[k] = svm.coef_[0], svm.intercept_[0]
    return torch.from_numpy(w), torch.from_numpy(b), {"hard_negatives": float(added)}
