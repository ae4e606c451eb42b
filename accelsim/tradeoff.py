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

from accelsim.compress.plan import CompressionPlan, load_plan
from accelsim.pipeline.accuracy import AccuracyRequest, accuracy_stage
from accelsim.model import get_model
from accelsim.pipeline.compression import CompressionRequest, compress_stage
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


def tradeoff(model_name: str, plan_arg: str, request: AccuracyRequest, clusters: Sequence[int],
             finetune_epochs: int = 0, progress: Callable[[str], None] | None = None) -> list[TradeoffRow]:
    """One row per variant: its miss rate on the request's frames, in its formats, and its compressed size."""
    rows = []
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
        accuracy = accuracy_stage(entry, network, cm, request, progress=progress).accuracy
        rows.append(TradeoffRow(variant=label, plan=plan.name if plan else "none", kept_fraction=kept,
                                compressed_kib=size / 2**10, miss_rate_lamr=accuracy.miss_rate_lamr,
                                dataset=accuracy.dataset, frames_evaluated=accuracy.frames_evaluated,
                                number_formats=accuracy.formats))
    return rows


def markdown(rows: Sequence[TradeoffRow]) -> str:
    lines = ["| variant | weights kept | compressed KiB | log-average miss rate |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.variant} | {r.kept_fraction:.0%} | {r.compressed_kib:,.1f} | {r.miss_rate_lamr:.2%} |")
    return "\n".join(lines)
