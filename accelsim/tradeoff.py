"""The compression trade-off of a detector: miss rate against compressed size, plan by plan.

Starting from a plan (by default the model's shipped one), it evaluates the dense model, the plan's
pruning alone, pruning with k-means weight sharing at several cluster counts, and the full plan before
and after its fine-tuning: the curve an architect reads to pick the cluster count and pruning rate.
Every row runs the classifier in the same number formats and on the same frames; compressions and
accuracies come from the caches that `accelsim run` uses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import pandas as pd

from accelsim.compress.plan import CompressionPlan, load_plan
from accelsim.detect.functional import NumberFormats
from accelsim.model import get_model
from accelsim.run import compressed_for, evaluate_design_accuracy


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


def tradeoff(model_name: str, plan_arg: str, formats: NumberFormats, dataset: str, frames: int | None,
             clusters: Sequence[int], finetune_epochs: int = 0,
             progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per variant: its miss rate on ``dataset`` and its compressed size."""
    spec = get_model(model_name)
    rows = []
    for label, plan in variants(load_plan(plan_arg), clusters, finetune_epochs):
        if progress:
            progress(f"trade-off: {label}")
        if plan is None:
            model, cm = spec.build(), None
            size = sum(p.numel() for p in model.parameters()) * 4
            kept = 1.0
        else:
            model, cm = compressed_for(model_name, plan, progress=progress)
            totals = cm.totals()
            size, kept = totals["compressed_bytes"], totals["kept_fraction"]
        acc = evaluate_design_accuracy(model, spec, cm, formats, dataset, frames, progress)
        rows.append({"variant": label, "plan": plan.name if plan else "none", "kept_fraction": kept,
                     "compressed_kib": size / 2**10, "miss_rate_lamr": acc.miss_rate_lamr, "dataset": acc.dataset,
                     "frames_evaluated": acc.frames_evaluated, "number_formats": acc.formats})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = ["| variant | weights kept | compressed KiB | log-average miss rate |", "|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.variant} | {r.kept_fraction:.0%} | {r.compressed_kib:,.1f} | {r.miss_rate_lamr:.2%} |")
    return "\n".join(lines)
