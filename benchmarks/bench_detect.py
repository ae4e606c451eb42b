"""Benchmark: frames per second of the functional evaluation (the detector on generated scenes, the
classifier in the hardware's number formats), small and full-size classifiers, on this CPU.

Run: python benchmarks/bench_detect.py [--frames N] [--full-frames M] [--proposals P]

For each classifier it times, on the same frames and the same proposals:
- the proposal stage alone (channel-feature pyramid, linear scorer, perceptron rescorer, NMS);
- the classifier on every proposal crop in float32 (the baseline: plain torch on decoded weights);
- the classifier in the embedded-45nm formats (8-bit activations and weights, 24-bit accumulators),
and prints frames/s for the whole detector in each mode and the fixed-point/float ratio. The
full-size classifier (deepped-alexnet, 227x227 crops, seeded weights) has no detector of its own, so it
scores the small detector's proposals, capped at --proposals per frame.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from accelsim.config import load_hwconfig
from accelsim.detect.crops import CropSpec, crop, image_tensor
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.evaluate import CALIBRATION_FRAMES, calibration_crops
from accelsim.detect.functional import FunctionalClassifier, NumberFormats
from accelsim.detect.proposals import ProposalModel
from accelsim.model import get_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--full-frames", type=int, default=3,
                    help="frames for the full-size classifier (seconds per frame in fixed point)")
    ap.add_argument("--proposals", type=int, default=64, help="cap on proposals per frame")
    args = ap.parse_args()

    small = get_model("deepped-small")
    proposals = ProposalModel.load(small.detector_dir / "proposals.npz")
    scenes = SyntheticScenes(seed=0, split="test", frames=args.frames)
    images = [scenes[i].image() for i in range(args.frames)]
    val = SyntheticScenes(seed=0, split="val", frames=CALIBRATION_FRAMES)
    val_frames = [val[i] for i in range(len(val))]

    t = time.perf_counter()
    boxes = [proposals.propose(im) for im in images]
    t_prop = (time.perf_counter() - t) / args.frames
    n_props = np.mean([len(b) for b in boxes])
    print(f"proposal stage: {1e3 * t_prop:.1f} ms/frame, {n_props:.1f} proposals/frame "
          f"({torch.get_num_threads()} torch threads)")

    formats = NumberFormats.from_hardware(load_hwconfig("embedded-45nm"))
    for name, size in (("deepped-small", small.input_shape[1]), ("deepped-alexnet", 227)):
        entry = get_model(name)
        model = entry.build()
        crop_spec = CropSpec(size=size)
        n = args.frames if name == "deepped-small" else min(args.full_frames, args.frames)
        crops = [crop(image_tensor(im), b[: args.proposals], crop_spec) for im, b in zip(images[:n], boxes[:n])]
        calib = calibration_crops(proposals, crop_spec, val_frames[:4])
        timings = {}
        for mode, classifier in (("float32", FunctionalClassifier(model, NumberFormats.float32())),
                                 ("embedded-45nm formats", FunctionalClassifier(model, formats, calibration=calib))):
            classifier(crops[0][:2])  # warm-up
            t = time.perf_counter()
            with torch.no_grad():
                for c in crops:
                    classifier(c)
            timings[mode] = (time.perf_counter() - t) / n
        per_frame_crops = np.mean([len(c) for c in crops])
        base = timings["float32"]
        for mode, t_cls in timings.items():
            fps = 1.0 / (t_prop + t_cls)
            print(f"{name:16s} {mode:22s} classifier {1e3 * t_cls:8.1f} ms/frame ({per_frame_crops:.0f} crops, {n} frames), "
                  f"detector {fps:6.2f} frames/s, classifier time x{t_cls / base:.2f} of float32")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
