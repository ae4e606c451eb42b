"""Colour tables (RGB 0-255) of clothes, skin, hair, facades, cars and signs, and the random
draws that choose among them."""

from __future__ import annotations

import numpy as np

CLOTHES = np.array([
    (28, 28, 32), (50, 50, 56), (95, 95, 100), (150, 150, 150), (215, 215, 210), (35, 42, 75),
    (55, 78, 120), (105, 130, 165), (90, 62, 45), (180, 160, 125), (130, 120, 88), (78, 84, 52),
    (35, 66, 44), (150, 34, 36), (95, 30, 40), (200, 105, 40), (205, 180, 65), (200, 135, 155),
    (85, 58, 112), (115, 160, 200), (40, 112, 112), (160, 150, 140),
], dtype=np.float32)
TOP_WEIGHTS = np.array([8, 7, 6, 5, 6, 6, 4, 3, 4, 4, 3, 3, 2, 3, 2, 2, 2, 2, 2, 3, 2, 3], dtype=np.float64)
BOTTOM_WEIGHTS = np.array([10, 8, 6, 3, 1, 6, 10, 5, 4, 3, 4, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 3], dtype=np.float64)
SKIN = np.array([(236, 200, 172), (214, 170, 135), (190, 140, 105), (150, 102, 72), (105, 70, 50),
                 (72, 48, 36)], dtype=np.float32)
HAIR = np.array([(22, 18, 16), (48, 34, 26), (92, 64, 42), (180, 150, 95), (145, 145, 140), (125, 62, 36)],
                dtype=np.float32)
HAIR_WEIGHTS = np.array([6, 6, 4, 2, 1.5, 0.5])
FACADE = np.array([(150, 75, 58), (122, 92, 72), (198, 184, 158), (150, 148, 142), (208, 202, 190),
                   (78, 76, 80), (182, 160, 128), (95, 110, 125), (170, 120, 90), (120, 130, 110)],
                  dtype=np.float32)
CARS = np.array([(225, 225, 225), (170, 172, 176), (25, 25, 28), (90, 92, 96), (30, 45, 90), (150, 25, 25),
                 (60, 80, 60), (190, 180, 160), (40, 90, 150)], dtype=np.float32)
CAR_WEIGHTS = np.array([5, 5, 5, 4, 2, 2, 1, 1, 1], dtype=np.float64)
SIGNS = np.array([(200, 30, 30), (30, 70, 160), (230, 230, 225), (230, 190, 30), (30, 120, 60)],
                 dtype=np.float32)
SIGN_COLOURS = np.vstack([SIGNS, CLOTHES])  # shop signs


def choice(rng, options, p=None):
    """One of ``options`` (with probabilities ``p``, uniform when None); a cheap rng.choice."""
    r = rng.random()
    if p is None:
        return options[min(int(r * len(options)), len(options) - 1)]
    cumulative = 0.0
    for o, w in zip(options, p):
        cumulative += w
        if r < cumulative:
            return o
    return options[-1]


def pick(rng, table, weights=None):
    """A copy of one row of ``table`` (with relative ``weights``, uniform when None)."""
    if weights is None:
        return table[min(int(rng.random() * len(table)), len(table) - 1)].copy()
    return table[choice(rng, range(len(table)), weights / weights.sum())].copy()


def jitter(rng, colour, amount=0.1):
    """``colour`` with each channel scaled by 1 +- ``amount`` and all by 0.85-1.15, at most 255."""
    u = rng.random(4)
    return np.minimum(colour * ((1 - amount + 2 * amount * u[:3]) * (0.85 + 0.3 * u[3])), 255.0)
