"""Running a sweep: compression variants first, then the hardware points of each, on an executor.

Two kinds of task, both pure functions of their arguments (so any executor gives the same rows):

* a *variant* task compresses the model with one plan variant and evaluates its miss rate once per
  number format the variant's hardware points use; both are the pipeline's cached stages, so a
  resumed sweep, or a second sweep with the same variants, recomputes neither. The driver stores each
  evaluation's per-frame evidence, from which the analysis pairs any two variants' miss rates;
* a *points* task simulates a chunk of design points that share a variant's workload.

Points tasks of a variant are submitted as soon as its variant task finishes, so the executor never
idles while other variants compress. The driver records every finished point in the store at once;
a killed sweep resumes with the points that had not finished.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import astuple, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.compress.plan import CompressionPlan
from accelsim.config import HardwareConfig
from accelsim.detect.datasets import open_dataset
from accelsim.detect.functional import NumberFormats
from accelsim.detect.intervals import IntervalSpec
from accelsim.detect.metric import Matched
from accelsim.errors import AccelsimError, SweepError
from accelsim.pipeline.accuracy import AccuracyRequest, accuracy_stage
from accelsim.pipeline.compression import CompressionRequest, compress_stage
from accelsim.pipeline.simulation import build_target, check_plan, check_workload, simulate_stage, simulated_proposals
from accelsim.results.records import AccuracyFigures, Design, DesignPointSummary, SweepPoint
from accelsim.results.schema import cell
from accelsim.sweep.constraints import evaluate
from accelsim.sweep.outputs import text_summary, write_outputs
from accelsim.sweep.recommendation import recommend
from accelsim.sweep.spec import DesignPoint, Sweep
from accelsim.sweep.store import SweepStore, folder_lock
from accelsim.workload import build_workload

POINTS_PER_TASK = 16  # large enough to amortise shipping a workload (a few MB) to a worker


@dataclass(frozen=True)
class VariantTask:
    key: str
    model: str
    plan: dict  # CompressionPlan.to_dict()
    formats: tuple[NumberFormats, ...]
    dataset: str | None
    frames: int | None
    intervals: IntervalSpec


@dataclass(frozen=True)
class VariantAccuracy:
    """What a variant's points need from its evaluation in one number format, and its evidence."""

    figures: AccuracyFigures
    density: dict[str, float]  # non-zero input activations per layer
    matched: Matched  # 'reasonable', for paired comparisons with other variants


@dataclass
class VariantOutcome:
    key: str
    plan_name: str = ""
    layers: list | None = None  # the workload (accelsim.workload.Layer), None when the variant failed
    accuracy: dict[tuple, VariantAccuracy] = field(default_factory=dict)  # by astuple(formats)
    error: str | None = None


@dataclass(frozen=True)
class PointItem:
    point_id: str
    index: int
    values: dict[str, Any]
    hardware: HardwareConfig
    formats: tuple


def _quiet_worker() -> None:
    """One thread per worker process: the executor already fills every core with processes."""
    import torch

    torch.set_num_threads(1)


def run_variant(task: VariantTask) -> VariantOutcome:
    """Compress the variant and evaluate it once per number format its points use (pipeline stages, so
    both come from the cache when computed before)."""
    _quiet_worker()
    try:
        compressed = compress_stage(CompressionRequest(task.model, CompressionPlan.model_validate(task.plan)))
        layers = build_workload(compressed.network, compressed.entry.input_shape, compressed.storage)
        outcome = VariantOutcome(task.key, compressed.storage.plan.name, layers)
        if task.dataset is not None:
            dataset = open_dataset(task.dataset)
            for formats in task.formats:
                evaluated = accuracy_stage(compressed.entry, compressed.network, compressed.storage,
                                           AccuracyRequest(formats, dataset, task.frames, task.intervals,
                                                           keep_pixels=True))
                outcome.accuracy[astuple(formats)] = VariantAccuracy(
                    evaluated.figures(), evaluated.accuracy.activation_density, evaluated.accuracy.evidence.matched())
        return outcome
    except Exception as exc:  # noqa: BLE001 - a failing variant fails its points, not the sweep
        return VariantOutcome(task.key, error=_message(exc))


def run_points(model: str, outcome: VariantOutcome, items: list[PointItem], default_proposals: int,
               per_layer: bool) -> list[tuple[dict, list[dict] | None]]:
    """Simulate each point; a point that fails is returned with its error, the others go on."""
    _quiet_worker()
    out = []
    for item in items:
        try:
            accuracy = outcome.accuracy.get(item.formats)
            target = build_target(item.hardware)
            check_workload(target, outcome.layers)
            proposals = (simulated_proposals(accuracy.figures.proposals_per_frame_measured) if accuracy
                         else default_proposals)
            frame = simulate_stage(target, outcome.layers, proposals, accuracy.density if accuracy else None).frame
            design = Design(hardware=item.hardware.name, model=model, plan=outcome.plan_name,
                            accelsim_version=__version__)
            summary = DesignPointSummary(design, accuracy.figures if accuracy else None, frame.figures)
            row = {**SweepPoint(item.point_id, item.index, "ok", None).flat(), **item.values,
                   **{k: cell(v) for k, v in summary.flat().items()}}
            out.append((row, [r.flat() for r in frame.rows] if per_layer else None))
        except Exception as exc:  # noqa: BLE001 - recorded in the store; the sweep goes on
            out.append((_failed_row(item.point_id, item.index, item.values, _message(exc)), None))
    return out


def _message(exc: Exception) -> str:
    return str(exc) if isinstance(exc, AccelsimError) else f"{type(exc).__name__}: {exc}"


# --- executors -------------------------------------------------------------------------------------

class Executor:
    """submit(fn, *args) -> Future; the same interface for local processes and Dask."""

    workers: int

    def submit(self, fn: Callable, *args) -> Future: ...

    def share(self, obj: Any) -> Any:
        """A handle to pass ``obj`` to many tasks without shipping it with each (the object itself here)."""
        return obj

    def wait_any(self, futures: set) -> set: ...

    def close(self) -> None: ...


class SerialExecutor(Executor):
    """In this process (one worker): no start-up cost, and tracebacks stay readable. A task runs when
    the driver waits for it, one at a time, so each result is recorded before the next task starts."""

    workers = 1

    def __init__(self):
        self._tasks: dict[Future, tuple[Callable, tuple]] = {}

    def submit(self, fn, *args):
        fut: Future = Future()
        self._tasks[fut] = (fn, args)
        return fut

    def wait_any(self, futures):
        # newest first: a variant's points run (and are stored) before the next variant compresses
        fut = next(f for f in reversed(self._tasks) if f in futures)
        fn, args = self._tasks.pop(fut)
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as from a pool
            fut.set_exception(exc)
        return {fut}

    def close(self):
        self._tasks.clear()


class LocalExecutor(Executor):
    def __init__(self, workers: int):
        self.workers = workers
        # spawn: the parent has torch loaded, and forking a process with live thread pools can hang
        self._pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_quiet_worker)

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def wait_any(self, futures):
        return wait(futures, return_when=FIRST_COMPLETED).done

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor(Executor):
    """A Dask distributed cluster: the one at ``scheduler``, or a local one of ``workers`` processes."""

    def __init__(self, workers: int, scheduler: str | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError("--executor dask needs dask.distributed: pip install 'dask[distributed]'") from None
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise SweepError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
        else:
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        self.workers = max(1, len(self._client.scheduler_info()["workers"]))

    def submit(self, fn, *args):
        return self._client.submit(fn, *args, pure=False)

    def share(self, obj):
        # A workload goes to the cluster once, not once per points task.
        return self._client.scatter(obj, broadcast=False)

    def wait_any(self, futures):
        from distributed import wait as dask_wait

        return dask_wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, workers: int | None, scheduler: str | None) -> Executor:
    if scheduler and kind != "dask":
        raise SweepError("--scheduler needs --executor dask")
    n = workers or os.cpu_count() or 1
    if kind == "dask":
        return DaskExecutor(n, scheduler)
    if kind != "local":
        raise SweepError(f"--executor {kind}: unknown executor; use local or dask")
    return SerialExecutor() if n == 1 else LocalExecutor(n)


# --- the driver ------------------------------------------------------------------------------------

@dataclass
class SweepProgress:
    """Callbacks the driver reports to (the CLI draws bars from them)."""

    start: Callable[[str, int], None] = lambda phase, total: None
    advance: Callable[[str, int], None] = lambda phase, n: None
    message: Callable[[str], None] = lambda text: None


def variant_tasks(sweep: Sweep, points: list[DesignPoint]
                  ) -> tuple[dict[str, VariantTask], dict[str, list[PointItem]], list[dict]]:
    """The variant task and the point items of each compression variant of ``points``, and the failed
    rows of points whose values are invalid together (a weight share larger than the SRAM, a variant's
    clusters more than the decoders hold), which then cost no compression."""
    by_variant: dict[str, list[PointItem]] = defaultdict(list)
    plans: dict[str, CompressionPlan] = {}
    invalid = []
    for point in points:
        try:
            cfg = sweep.hardware_for(point)
            if point.variant not in plans:
                plans[point.variant] = sweep.plan_for(point.plan_values)
            # Checked here, a point whose tables or decoders cannot take its variant costs no compression.
            build_target(cfg)
            check_plan(cfg, plans[point.variant], sweep.layer_names)
        except AccelsimError as exc:
            invalid.append(_failed_row(point.point_id, point.index, dict(point.values), str(exc)))
            continue
        formats = NumberFormats.from_hardware(cfg)
        by_variant[point.variant].append(PointItem(point.point_id, point.index, dict(point.values), cfg, astuple(formats)))
    tasks = {}
    for key, items in by_variant.items():
        formats = tuple(dict.fromkeys(NumberFormats(*i.formats) for i in items))
        tasks[key] = VariantTask(key, sweep.spec.model, plans[key].to_dict(), formats, sweep.dataset, sweep.spec.frames,
                                 sweep.intervals)
    return tasks, by_variant, invalid


def _failed_row(point_id: str, index: int, values: dict[str, Any], error: str) -> dict:
    return {**SweepPoint(point_id, index, "failed", error).flat(), **values}


def execute(sweep: Sweep, points: list[DesignPoint], executor: Executor, record: Callable[[dict, list | None], None],
            *, record_evidence: Callable[[str, str, Matched], None] = lambda plan, formats, matched: None,
            per_layer: bool = False, progress: SweepProgress | None = None) -> dict[str, int]:
    """Evaluate ``points`` and pass each finished row (and its layer rows) to ``record`` as it arrives,
    and each variant's evidence per number format to ``record_evidence`` before its points.

    Returns counts: points ok, failed, variants computed.
    """
    progress = progress or SweepProgress()
    counts = {"ok": 0, "failed": 0, "variants": 0}

    def done(row: dict, layer_rows: list | None) -> None:
        record(row, layer_rows)
        counts[row["status"]] += 1
        progress.advance("points", 1)

    progress.start("points", len(points))
    tasks, by_variant, invalid = variant_tasks(sweep, points)
    for row in invalid:
        done(row, None)
    progress.start("variants", len(tasks))

    # Variants go in one per worker at a time: a finished variant's points are then queued ahead of
    # the next variant, so points are stored as the sweep goes, not only after every variant compressed.
    queue = list(tasks.values())
    pending: dict[Any, tuple[str, Any]] = {}

    def next_variant() -> None:
        if queue:
            task = queue.pop(0)
            pending[executor.submit(run_variant, task)] = ("variant", task.key)

    for _ in range(executor.workers):
        next_variant()
    while pending:
        for fut in executor.wait_any(set(pending)):
            kind, key = pending.pop(fut)
            if kind == "variant":
                outcome: VariantOutcome = fut.result()
                counts["variants"] += 1
                progress.advance("variants", 1)
                items = by_variant[key]
                if outcome.error is not None:
                    for item in items:
                        done(_failed_row(item.point_id, item.index, item.values,
                                         f"compression variant: {outcome.error}"), None)
                else:
                    for accuracy in outcome.accuracy.values():
                        record_evidence(outcome.plan_name, accuracy.figures.number_formats, accuracy.matched)
                    shared = executor.share(outcome)
                    for chunk in _chunks(items, executor.workers):
                        fut2 = executor.submit(run_points, sweep.spec.model, shared, chunk, sweep.spec.proposals,
                                               per_layer)
                        pending[fut2] = ("points", key)
                next_variant()
            else:
                for row, layer_rows in fut.result():
                    done(row, layer_rows)
    return counts


def _chunks(items: list, workers: int) -> Iterator[list]:
    """Chunks small enough to spread one variant over the workers, large enough to amortise its workload."""
    size = max(1, min(POINTS_PER_TASK, math.ceil(len(items) / workers)))
    for i in range(0, len(items), size):
        yield items[i:i + size]


def run_sweep(sweep: Sweep, out: Path, *, executor: str = "local", workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, retry_failed: bool = False,
              per_layer: bool = False, progress: SweepProgress | None = None, spec_text: str = "") -> dict:
    """Run (or resume) ``sweep`` into the store in ``out``, then write the tables, Pareto front and
    recommendation there. Returns a summary dict."""
    progress = progress or SweepProgress()
    t0 = time.perf_counter()
    with folder_lock(out), SweepStore.open(out, sweep.spec_hash, spec_text, resume=resume) as store:
        finished = store.finished(include_failed=not retry_failed)
        points = sweep.points()
        todo = [p for p in points if p.point_id not in finished]
        total = len(points)
        progress.message(f"sweep {sweep.spec.name}: {total} design points, {total - len(todo)} already in {out}, "
                         f"{len(todo)} to run")
        counts = {"ok": 0, "failed": 0, "variants": 0}
        if todo:
            ex = make_executor(executor, workers, scheduler)
            try:
                counts = execute(sweep, todo, ex, store.record, record_evidence=store.record_evidence,
                                 per_layer=per_layer, progress=progress)
            finally:
                ex.close()
        results = store.results()
        layers = store.layer_results()
        evidence = store.evidence()
    evaluated = evaluate(results, sweep.spec.constraints, sweep.spec.objective)
    rec = recommend(evaluated, constraints=sweep.spec.constraints, objective=sweep.spec.objective,
                    evidence=evidence, intervals=sweep.intervals)
    axes = list(sweep.spec.axes)
    files = write_outputs(out, evaluated, layers, rec, axes, sweep.spec.name)
    wall = time.perf_counter() - t0
    all_failed = len(results) > 0 and bool((results["status"] != "ok").all())
    return {"points": total, "ran": len(todo), "ok_run": counts["ok"], "failed_run": counts["failed"],
            "variants_run": counts["variants"], "wall_s": wall, "recommendation": rec, "files": files,
            "summary": text_summary(rec, axes),
            # the store's first failure when no point of the sweep succeeded (None otherwise)
            "first_error": str(results["error"].iloc[0]) if all_failed else None}
