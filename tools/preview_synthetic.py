"""Write a few synthetic scenes as PNGs, boxes drawn, for a person to look at.

    python tools/preview_synthetic.py [--out DIR] [--seed 0] [--split test] [--frames 8] [--start 0]

Box colours: green person, yellow person?, magenta people; the number is the visible fraction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from accelsim.detect.datasets.synthetic import SyntheticScenes

COLOURS = {"person": (0, 255, 0), "person?": (255, 230, 0), "people": (255, 0, 255), "ignore": (128, 128, 128)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/synthetic_preview"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="test")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--no-boxes", action="store_true", help="also write the frames without boxes")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scenes = SyntheticScenes(seed=args.seed, split=args.split, frames=args.start + args.frames)
    for i in range(args.start, args.start + args.frames):
        frame = scenes[i]
        im = Image.fromarray(frame.image())
        if args.no_boxes:
            im.save(args.out / f"{args.split}_{i:06d}_raw.png")
        draw = ImageDraw.Draw(im)
        for o in frame.objects:
            x, y, w, h = o.box
            draw.rectangle([x, y, x + w, y + h], outline=COLOURS[o.label])
            draw.text((x, y - 10), f"{o.visible:.2f}", fill=COLOURS[o.label])
        path = args.out / f"{args.split}_{i:06d}.png"
        im.save(path)
        print(path, len(frame.objects), "objects")


if __name__ == "__main__":
    main()
