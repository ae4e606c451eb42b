"""Proposal crops for the CNN, R-CNN style: each box is enlarged by a context margin and warped
(stretched, not letterboxed) to a square of the classifier's input size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CropSpec:
    size: int = 67  # px, square: the classifier's input
    # R-CNN warps with 16 px of context around the box at 227 px, i.e. the box fills 195/227 of the crop
    context: float = 227 / 195

    def regions(self, boxes: np.ndarray) -> np.ndarray:
        """The image regions (x, y, w, h) that the crops cover: boxes grown by ``context`` about their centre."""
        b = np.asarray(boxes, dtype=np.float64)[:, :4]
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        w, h = b[:, 2] * self.context, b[:, 3] * self.context
        return np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-0.5, 0.5]: zero is mid-grey, so the zero padding that
    sampling outside the frame produces is neutral."""
    return torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).div_(255.0).sub_(0.5)


def crop(image: torch.Tensor, boxes: np.ndarray, spec: CropSpec, flip: np.ndarray | None = None) -> torch.Tensor:
    """Warped crops (n, 3, size, size) of the (1, 3, H, W) image tensor; ``flip`` mirrors chosen crops."""
    n = len(boxes)
    if n == 0:
        return torch.zeros((0, 3, spec.size, spec.size))
    _, _, h, w = image.shape
    r = spec.regions(boxes)
    # affine map from the output grid [-1, 1]^2 to the region in normalised input coordinates
    theta = torch.zeros((n, 2, 3), dtype=torch.float32)
    theta[:, 0, 0] = torch.from_numpy(r[:, 2] / w)
    theta[:, 0, 2] = torch.from_numpy((2 * r[:, 0] + r[:, 2]) / w - 1)
    theta[:, 1, 1] = torch.from_numpy(r[:, 3] / h)
    theta[:, 1, 2] = torch.from_numpy((2 * r[:, 1] + r[:, 3]) / h - 1)
    if flip is not None:
        theta[torch.from_numpy(np.asarray(flip, dtype=bool)), 0, 0] *= -1
    grid = F.affine_grid(theta, (n, 3, spec.size, spec.size), align_corners=False)
    return F.grid_sample(image.expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def to_uint8(crops: torch.Tensor) -> torch.Tensor:
    """Crops stored compactly for training sets (4x smaller than float)."""
    return ((crops + 0.5) * 255.0).round_().clamp_(0, 255).to(torch.uint8)


def from_uint8(crops: torch.Tensor) -> torch.Tensor:
    return crops.float().div_(255.0).sub_(0.5)
