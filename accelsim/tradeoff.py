"""The compression trade-off of a detector: miss rate against compressed size, plan by plan.

Starting from a plan (by default the model's shipped one), it evaluates the dense model, the plan's
pruning alone, pruning with k-means weight sharing at several cluster counts, and the full plan before
and after its fine-tuning: the curve an architect reads to pick the cluster count and pruning rate.
Every row runs the classifier in the same number formats and on the same frames; it composes the
pipeline's compression and accuracy stages, so compressions and accuracies come from their cache.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accelsim.compress.plan import CompressionPlan, load_plan
from accelsim.pipeline.accuracy import AccuracyRequest, Evaluated, accuracy_stage
from accelsim.model import get_model
from accelsim.pipeline.compression import CompressionRequest, compress_stage
from accelsim.pipeline.subsets import paired, subset_row
from accelsim.report.terminal import interval_text
from accelsim.results.records import TradeoffRow


def _without_clusters(raw: dict) -> dict:
    raw = copy.deepcopy(raw)
    for level in [raw.get("defaults", {}), *raw.get("groups", {}).values(), *raw.get("layers", {}).values()]:
        level.pop("clusters", None)
        level.pop("huffman_indices", None)
    return raw


def _named(raw: dict, name: str, label: str, epochs: int, lr: float | None = None) -> CompressionPlan:
    finetune = {**raw.get("finetune", {}), "epochs": epochs}
    if lr is not None:
        finetune["lr"] = lr
    return CompressionPlan.model_validate({**raw, "name": name, "description": label, "finetune": finetune})


def variants(plan: CompressionPlan, clusters: Sequence[int], finetune_epochs: int) -> list[tuple[str, CompressionPlan | None]]:
    """(row label, plan) for each row of the trade-off; None is the uncompressed model.

    Fine-tuning rows (``finetune_epochs`` > 0) follow the plan itself and its most aggressive cluster
    count, where there is most accuracy to recover.
    """
    base = plan.to_dict()
    lr = plan.finetune.lr
    pruned = _without_clusters(base)
    pruned["defaults"] = {**pruned.get("defaults", {}), "codebook_format": "fp32"}
    rows: list[tuple[str, CompressionPlan | None]] = [("dense (fp32)", None)]
    rows.append(("pruned", _named(pruned, f"{plan.name}-pruned", "pruned", 0)))
    for k in sorted(clusters):
        raw = _without_clusters(base)
        raw["defaults"] = {**raw.get("defaults", {}), "clusters": k}
        rows.append((f"pruned + {k} clusters", _named(raw, f"{plan.name}-k{k}", f"pruned + {k} clusters", 0)))
        if finetune_epochs and k == min(clusters):
            label = f"pruned + {k} clusters, fine-tuned {finetune_epochs} epochs"
            rows.append((label, _named(raw, f"{plan.name}-k{k}-ft{finetune_epochs}", label, finetune_epochs, lr)))
    rows.append((f"plan {plan.name}", _named(base, plan.name, plan.description, plan.finetune.epochs)))
    if finetune_epochs and plan.finetune.epochs != finetune_epochs:
        label = f"plan {plan.name}, fine-tuned {finetune_epochs} epochs"
        rows.append((label, _named(base, f"{plan.name}-ft{finetune_epochs}", label, finetune_epochs, lr)))
    return rows


@dataclass(frozen=True)
class Tradeoff:
    rows: list[TradeoffRow]  # one per variant and subset, the reference's first
    evaluations: list[tuple[str, Evaluated]]  # (variant label, its evaluation), for the curves

    @property
    def reference(self) -> str:
        return self.evaluations[0][0]


def tradeoff(model_name: str, plan_arg: str, request: AccuracyRequest, clusters: Sequence[int],
             finetune_epochs: int = 0, progress: Callable[[str], None] | None = None) -> Tradeoff:
    """Every variant's miss rate on the request's frames, in its formats, per subset, with the paired
    difference against the dense model (the first variant) on the same frames."""
    evaluations: list[tuple[str, Evaluated]] = []
    sizes: list[tuple[str, float, float]] = []
    for label, plan in variants(load_plan(plan_arg), clusters, finetune_epochs):
        if progress:
            progress(f"trade-off: {label}")
        if plan is None:
            entry, cm = get_model(model_name), None
            network = entry.build()
            size = sum(p.numel() for p in network.parameters()) * 4
            kept = 1.0
        else:
            compressed = compress_stage(CompressionRequest(model_name, plan), progress=progress)
            entry, network, cm = compressed.entry, compressed.network, compressed.storage
            totals = cm.totals()
            size, kept = totals["compressed_bytes"], totals["kept_fraction"]
        evaluations.append((label, accuracy_stage(entry, network, cm, request, progress=progress)))
        sizes.append((plan.name if plan else "none", kept, size / 2**10))
    reference_label, reference = evaluations[0]
    rows = []
    for (label, evaluated), (plan_name, kept, kib) in zip(evaluations, sizes, strict=True):
        a = evaluated.accuracy
        for subset, iv, diff in paired(a.evidence, reference.accuracy.evidence, request.intervals):
            rows.append(TradeoffRow(
                variant=label, plan=plan_name, kept_fraction=kept, compressed_kib=kib, subset=subset_row(subset, iv),
                reference=reference_label, delta_vs_reference=diff.delta if diff else None,
                delta_ci_low=diff.low if diff else None, delta_ci_high=diff.high if diff else None,
                distinguishable=diff.distinguishable if diff else None, confidence_level=request.intervals.level,
                dataset=a.dataset, number_formats=a.formats))
    return Tradeoff(rows, evaluations)


def _points(r: TradeoffRow) -> str:
    """The row's difference from the reference in percentage points with its interval; * where it is
    distinguishable from 0."""
    if r.delta_vs_reference is None:
        return "n/a"
    return (f"{100 * r.delta_vs_reference:+.1f} [{100 * r.delta_ci_low:+.1f}, {100 * r.delta_ci_high:+.1f}]"
            f"{'*' if r.distinguishable else ''}")


def markdown(result: Tradeoff) -> str:
    """The 'reasonable' rows with their intervals and differences, then each variant's difference
    from the reference on every subset."""
    rows = result.rows
    level = rows[0].confidence_level
    main = [r for r in rows if r.subset.subset == "reasonable"]
    lines = [f"| variant | weights kept | compressed KiB | log-average miss rate [{level:.0%} interval] | "
             f"vs {result.reference}, points [{level:.0%} interval] |", "|---|---|---|---|---|"]
    for r in main:
        s = r.subset
        lines.append(f"| {r.variant} | {r.kept_fraction:.0%} | {r.compressed_kib:,.1f} | "
                     f"{interval_text(s.miss_rate_lamr, s.miss_rate_lamr_ci_low, s.miss_rate_lamr_ci_high)} | "
                     f"{_points(r)} |")
    by = {(r.variant, r.subset.subset): r for r in rows}
    lines += ["", f"Difference from {result.reference} by subset, in points of miss rate [{level:.0%} paired "
              "interval]; * = distinguishable from 0 at that level.", "",
              "| subset | frames | positives | " + " | ".join(r.variant for r in main[1:]) + " |",
              "|---|---|---|" + "---|" * (len(main) - 1)]
    for first in (r.subset for r in rows if r.variant == main[0].variant):
        cells = [_points(by[(r.variant, first.subset)]) for r in main[1:]]
        lines.append(f"| {first.subset} | {first.frames} | {first.positives} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
