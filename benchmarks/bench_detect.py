"""Benchmark: speed of the functional evaluation (the detector on generated scenes, the classifier in
the hardware's number formats), against the path it replaced, run in the same process.

Run: python benchmarks/bench_detect.py [--frames N] [--e2e-frames M] [--full-frames K] [--rounds R] [--threads T]

It prints three parts, each with its ratio against the earlier path:
1. what does not depend on the variant: the proposal stage and rendering a scene, against reading
   their cache entries (one entry per frame);
2. the classifier per frame (64 proposal crops) in float32, in the embedded-45nm formats as it was
   computed before (`_EarlierFixedPoint`, a copy of the earlier code path: float64 values between
   layers) and as it is now, for deepped-small and the full-size deepped-alexnet (227x227 crops,
   seeded weights, the small detector's proposals); both fixed-point paths must give the same bits.
   Rounds alternate the three and each keeps its best, so that load from other processes (this
   machine has 2 cores) hits them alike;
3. end to end, a new deepped-small variant in the embedded-45nm formats evaluated by `run_detector`
   in a fresh process's state (memory cleared) once an earlier variant has filled the cache, against
   the earlier path of a fresh process: render, propose and classify every frame (the final metric,
   a few ms for the whole evaluation, is left out of the earlier path only).
The cache is a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim.cache import Cache
from accelsim.cache.location import CACHE_DIR_VARIABLE
from accelsim.config import load_hwconfig
from accelsim.detect import evaluate as evaluate_module
from accelsim.detect import functional as fx
from accelsim.detect.crops import CropSpec, crop, image_tensor
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.detector import Detector
from accelsim.detect.evaluate import CALIBRATION_FRAMES, calibration_crops, functional_detector, run_detector
from accelsim.detect.frame_cache import FrameInputs, clear_memory
from accelsim.detect.functional import FunctionalClassifier, NumberFormats
from accelsim.detect.proposals import ProposalModel
from accelsim.model import get_model


class _EarlierFixedPoint(FunctionalClassifier):
    """The fixed-point execution as it was before codes were held in float32 (commit fd90616):
    float64 values q * 2^-F between layers, every conv/fc input re-rounded to codes, bias added and
    accumulator compared in float64, max pooling in float64. Same weights and calibration rule."""

    def __init__(self, *args, **kwargs):
        self._bias: dict[str, torch.Tensor | None] = {}
        super().__init__(*args, **kwargs)

    @functools.cached_property
    def _input_of(self) -> dict[str, str]:
        return {s.name: p.name for p, s in zip(self._stages, self._stages[1:])}

    def _point(self, name, x, stats, calibrate):
        bits = self.formats.activation_bits
        if bits is None:
            return x
        if calibrate:
            self._act_frac[name] = fx.frac_bits_for(fx._max_abs(x), bits)
        q, clipped = fx.quantize(x, bits, self._act_frac[name])
        stats.clip(name, clipped, x.numel())
        return q

    def _forward(self, x, stats, calibrate):
        quantised = self.formats.activation_bits is not None
        x = x.to(torch.float32)
        if not quantised and self._stages[0].followers:
            x = x.clone()
        x = self._point(fx.INPUT, x, stats, calibrate)
        for s in self._stages:
            if s.producer is not None:
                if isinstance(s.producer, fx._COMPUTE):
                    stats.density(s.name, x)
                    x = self._compute(s, x, stats, calibrate)
                elif quantised:
                    x = s.producer(x.to(torch.float64))
                else:
                    x = s.producer(x)
            for m in s.followers:
                x = m(x)
            if s.producer is not None:
                x = self._point(s.name, x, stats, calibrate)
        return x.to(torch.float32)

    def _compute(self, s, x, stats, calibrate):
        m = s.producer
        w = self._weights.get(s.name)
        in_frac = self._act_frac.get(self._input_of[s.name])
        bits_a = self.formats.activation_bits
        if w is None and bits_a is None:
            return m(x)
        if w is None or bits_a is None:
            weight = m.weight if w is None else w.values
            return fx._apply(m, x.to(torch.float32), weight, m.bias)
        prod_frac = w.frac + in_frac
        acc_bits = self.formats.accumulator_bits
        if calibrate:
            self._prepare_integer_layer(s.name, m, w, prod_frac)
        bias = self._bias[s.name]
        dtype = torch.float32 if s.name in self._float32_layers else torch.float64
        codes_in = torch.round(x.to(torch.float64) * 2.0 ** in_frac)
        accumulated = fx._apply(m, codes_in.to(dtype), w.codes, None).to(torch.float64)
        if bias is not None:
            accumulated = accumulated + bias.reshape((-1,) + (1,) * (accumulated.dim() - 2))
        if acc_bits is not None:
            lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
            clipped = int(((accumulated < lo) | (accumulated > hi)).sum())
            stats.clip(f"{s.name}/accumulator", clipped, accumulated.numel())
            accumulated = accumulated.clamp(lo, hi)
        return accumulated * 2.0 ** -prod_frac

    def _prepare_integer_layer(self, name, m, w, prod_frac):
        acc_bits = self.formats.accumulator_bits
        bias = None
        if m.bias is not None:
            bias = torch.round(m.bias.detach().to(torch.float64) * 2.0 ** prod_frac)
            if acc_bits is not None:
                bias = bias.clamp(-(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1)
        self._bias[name] = bias
        fan_in = m.weight[0].numel()
        bound = w.max_code * 2 ** (self.formats.activation_bits - 1) * fan_in
        bound += 0 if bias is None else fx._max_abs(bias)
        if bound < fx._FLOAT32_EXACT_LIMIT:
            self._float32_layers.add(name)
        else:
            self._float32_layers.discard(name)
        w.codes = w.codes.to(torch.float32 if name in self._float32_layers else torch.float64)


def _per_item_s(action, items) -> float:
    t = time.perf_counter()
    for item in items:
        action(item)
    return (time.perf_counter() - t) / len(items)


def frame_inputs(args, proposals: ProposalModel, scenes: SyntheticScenes, cache: Cache) -> list[np.ndarray]:
    frames = [scenes[i] for i in range(args.frames)]
    images = []
    t_render = _per_item_s(lambda f: images.append(f.image()), frames)
    boxes = []
    t_propose = _per_item_s(lambda im: boxes.append(proposals.propose(im)), images)
    clear_memory()
    t_fill = _per_item_s(FrameInputs(proposals, scenes.name, cache, keep_pixels=True), frames)  # renders, proposes, writes
    clear_memory()
    t_hit = _per_item_s(FrameInputs(proposals, scenes.name, cache, keep_pixels=True), frames)
    print(f"-- 1. per frame, independent of the variant ({args.frames} frames, {torch.get_num_threads()} torch threads)")
    print(f"render {1e3 * t_render:.1f} ms + propose {1e3 * t_propose:.1f} ms ({np.mean([len(b) for b in boxes]):.1f} "
          f"proposals) = {1e3 * (t_render + t_propose):.1f} ms; computing and writing both entries "
          f"{1e3 * t_fill:.1f} ms; reading both entries {1e3 * t_hit:.2f} ms "
          f"(x{(t_render + t_propose) / t_hit:.0f} faster)")
    clear_memory()
    pixels_only = FrameInputs(None, scenes.name, cache, keep_pixels=True)
    t_pixels = _per_item_s(pixels_only, frames)
    print(f"  of which pixels {1e3 * t_pixels:.2f} ms, proposals {1e3 * (t_hit - t_pixels):.2f} ms: one entry per "
          f"frame costs little next to the classifier, and lets any later evaluation reuse any earlier frame")
    return images, boxes


def classifiers(args, images, boxes, formats: NumberFormats, proposals: ProposalModel, val_frames, val_name) -> None:
    print(f"-- 2. classifier per frame, best of {args.rounds} alternating rounds")
    for name, size in (("deepped-small", get_model("deepped-small").input_shape[1]), ("deepped-alexnet", 227)):
        model = get_model(name).build()
        spec = CropSpec(size=size)
        n = args.frames if name == "deepped-small" else min(args.full_frames, args.frames)
        crops = [crop(image_tensor(im), b[: args.proposals], spec) for im, b in zip(images[:n], boxes[:n])]
        calib = calibration_crops(proposals, spec, val_frames[:4], val_name)
        modes = {"float32": FunctionalClassifier(model, NumberFormats.float32()),
                 "fixed point, earlier": _EarlierFixedPoint(model, formats, calibration=calib),
                 "fixed point, now": FunctionalClassifier(model, formats, calibration=calib)}
        same = all(torch.equal(modes["fixed point, earlier"](c).view(torch.int32),
                               modes["fixed point, now"](c).view(torch.int32)) for c in crops)
        best = {mode: float("inf") for mode in modes}
        for _ in range(args.rounds):
            for mode, classifier in modes.items():
                best[mode] = min(best[mode], _per_item_s(classifier, crops))
        base = best["float32"]
        for mode, t in best.items():
            print(f"{name:16s} {mode:21s} {1e3 * t:8.1f} ms/frame ({np.mean([len(c) for c in crops]):.0f} crops, "
                  f"{n} frames)  x{t / base:.2f} of float32")
        print(f"{name:16s} fixed point now/earlier x{best['fixed point, now'] / best['fixed point, earlier']:.2f}; "
              f"identical logits (bits): {same}")


def end_to_end(args, formats: NumberFormats, cache: Cache) -> None:
    entry = get_model("deepped-small")
    network = entry.build()
    scenes = SyntheticScenes(seed=1, split="test", frames=args.e2e_frames)  # frames no earlier part touched
    frames = [scenes[i] for i in range(args.e2e_frames)]
    print(f"-- 3. end to end, deepped-small in the embedded-45nm formats, {args.e2e_frames} frames")

    detector, _ = functional_detector(network, entry.detector_dir, formats)
    val = SyntheticScenes(seed=0, split="val", frames=CALIBRATION_FRAMES)
    calibration = calibration_crops(detector.proposals, detector.config.crop, [val[i] for i in range(len(val))],
                                    val.name)
    earlier = Detector(detector.proposals, detector.config, _EarlierFixedPoint(network, formats, calibration=calibration))

    def earlier_frame(frame):
        image = frame.image()
        earlier(image, earlier.proposals.propose(image))

    t_earlier = _per_item_s(earlier_frame, frames)
    print(f"earlier path (render, propose, earlier fixed point): {1 / t_earlier:6.2f} frames/s")

    # a first variant fills the cache with the frames' pixels and proposals
    clear_memory()
    first, first_classifier = functional_detector(network, entry.detector_dir, NumberFormats.float32())
    t = time.perf_counter()
    run_detector(first, first_classifier, frames, scenes.name, cache=cache, keep_pixels=True)
    t_first = (time.perf_counter() - t) / len(frames)
    print(f"first variant (float32), empty cache:             {1 / t_first:6.2f} frames/s")

    clear_memory()  # a new variant in a new process
    evaluate_module._CALIBRATION.clear()
    t = time.perf_counter()
    detector, classifier = functional_detector(network, entry.detector_dir, formats)
    t_setup = time.perf_counter() - t
    t = time.perf_counter()
    run_detector(detector, classifier, frames, scenes.name, cache=cache, keep_pixels=True)
    t_new = (time.perf_counter() - t) / len(frames)
    print(f"new variant (embedded-45nm), cached frames:       {1 / t_new:6.2f} frames/s "
          f"(x{t_earlier / t_new:.1f} the earlier path); with its setup ({t_setup:.2f} s: calibration on "
          f"{CALIBRATION_FRAMES} cached val frames) {len(frames) / (t_setup + t_new * len(frames)):.2f} frames/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20, help="frames for parts 1 and 2")
    ap.add_argument("--e2e-frames", type=int, default=50, help="frames for part 3")
    ap.add_argument("--full-frames", type=int, default=2,
                    help="frames for the full-size classifier (seconds per frame in fixed point)")
    ap.add_argument("--proposals", type=int, default=64, help="cap on proposals per frame")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    proposals = ProposalModel.load(get_model("deepped-small").detector_dir / "proposals.npz")
    formats = NumberFormats.from_hardware(load_hwconfig("embedded-45nm"))
    val = SyntheticScenes(seed=0, split="val", frames=CALIBRATION_FRAMES)
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as root:
        os.environ[CACHE_DIR_VARIABLE] = root  # what the stages find in the default cache too
        cache = Cache(Path(root))
        images, boxes = frame_inputs(args, proposals, SyntheticScenes(seed=0, split="test", frames=args.frames), cache)
        classifiers(args, images, boxes, formats, proposals, [val[i] for i in range(4)], val.name)
        end_to_end(args, formats, cache)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
