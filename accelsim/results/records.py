"""The result records of accelsim: what a design point, its layers, a miss-rate curve, a trade-off row
and a sweep row hold. Each field names its unit and meaning (see `schema`); `docs/outputs.md` is
generated from this module."""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.results.schema import Column, Record, Show, figure


# The files of a run folder, and what each holds.
RUN_FILES = {
    "layers.csv": "one row per layer (LayerRow)",
    "summary.json": "the design point (DesignPointSummary): design, accuracy, simulated frame, this run",
    "miss_rate_curve.csv": "miss rate against false positives per image (CurvePoint), when a dataset was evaluated",
    "miss_rate_curve.png": "the same curve as the standard log-log plot (and .svg), with its log-average and interval",
    "subsets.csv": "the miss rate on each Caltech subset and each condition of the frames (SubsetRow)",
    "detections.parquet": "per-frame evidence: every frame, ground-truth box and detection with how it matched "
                          "(see 'Per-frame evidence' below)",
    "hwconfig.resolved.yaml": "the hardware config with every default filled in, to rerun the point",
    "table_entries.json": "the energy/area table entries behind the figures, each with its unit and source",
}


@dataclass(frozen=True)
class LayerRow(Record):
    """One layer of the classifier over one steady-state frame (all its passes over the proposals)."""

    TITLE = "per layer"

    layer: str = figure("", "layer name in the network (conv1, pool1, fc6, ...)", show=Show("layer", "7s"))
    kind: str = figure("", "conv, fc, pool or norm", show=Show("kind", "5s"))
    macs: int = figure("MAC", "dense multiply-accumulates over the frame's proposals", show=Show("MACs", ">13,.0f"))
    macs_executed: float = figure(
        "MAC", "multiply-accumulates the array performs: pruned weights skipped where the config says so, and "
        "zero activations skipped at the measured density where it says so")
    input_activation_density: float = figure(
        "1", "fraction of non-zero input activations, measured on the evaluated frames (1 without a dataset)")
    compressed_weight_bytes: int = figure(
        "B", "stored weights of the layer: codebook, index and position streams, fillers, Huffman tables and biases",
        show=Show("weights B", ">11,.0f"))
    pinned: bool = figure("", "weights resident in the SRAM's weight share (read from DRAM only in the cold frame)",
                          show=Show("res", ">3s"))
    loop_order: str = figure(
        "", "the mapper's loop order: weights-outer (each weight tile sweeps every activation chunk) or inputs-outer "
        "(each chunk sweeps every weight tile); no-weights for pool and norm layers", show=Show("order", ">13s"))
    weight_tiles: int = figure("tiles", "pieces the weight stream is cut into per pass (1 when pinned)")
    weight_tile_bytes: float = figure("B", "the weight tile size the mapper chose (the whole stream when it is one "
                                      "tile; 0 for layers without weights)")
    weight_reads: int = figure(
        "", "times the weight stream is read from DRAM per pass: 1 under weights-outer order, once per activation "
        "chunk under inputs-outer, 0 when pinned")
    activation_chunks: int = figure("chunks", "pieces the layer's vectors (output pixels x proposals) are cut into "
                                    "per pass; each weight fold streams a chunk's vectors at a time")
    chunk_vectors: int = figure("vectors", "output pixels x proposals per activation chunk")
    input_mode: str = figure(
        "", "on-chip (the input stays in SRAM from the previous layer), resident (loaded from DRAM and kept for the "
        "chunk or the layer), or streamed (read from DRAM once per column fold, as SCALE-Sim streams it)")
    rows_used: int = figure("rows", "array rows the layer runs on (fewer than the array's when bank conflicts "
                            "would cost more than the rows gain)")
    psum_spill_bytes: float = figure(
        "B", "partial sums at accumulator width that do not fit the output share, written to DRAM (and read back "
        "as many)")
    cycles: float = figure("cycles", "accelerator clock cycles of the layer (DMA, compute and write-back overlapped)")
    stall_cycles: float = figure(
        "cycles", "cycles the MAC array is not computing: waits for data, decoder-bound and bank-conflict cycles")
    mac_cycles: float = figure("cycles", "cycles the MAC array computes")
    decoder_cycles: float = figure("cycles", "cycles the codebook decoders need for the layer's lookups")
    conflict_cycles: float = figure("cycles", "cycles lost to SRAM bank conflicts on input operands, waits for a "
                                                "bank still busy with a multi-cycle access included")
    dram_cycles: float = figure("cycles", "cycles the DRAM bus is busy with the layer's transfers")
    latency_us: float = figure("µs", "cycles at the configured clock", show=Show("latency us", ">11,.1f"))
    stall_share: float = figure("1", "stall_cycles / cycles (0 for a layer of no cycles)",
                                show=Show("stall %", ">7.1f", 100))
    bound: str = figure("", "what limits the layer: compute, decoder, dram or sram-banks (the largest of "
                        "mac_cycles, decoder_cycles, dram_cycles, conflict_cycles)", show=Show("bound", ">7s"))
    dram_read_bytes: float = figure("B", "bytes read from DRAM (weights and activations)",
                                    show=Show("DRAM rd B", ">12,.0f"))
    dram_write_bytes: float = figure("B", "bytes written to DRAM (activations that do not stay on chip)",
                                     show=Show("DRAM wr B", ">11,.0f"))
    dram_row_hits: int = figure("bursts", "DRAM bursts that found their row open")
    dram_row_misses: int = figure("bursts", "DRAM bursts that needed a precharge and activate")
    sram_read_bytes: float = figure("B", "bytes read from the SRAM banks (operands, partial sums, weights, "
                                    "outputs leaving for DRAM)")
    sram_write_bytes: float = figure("B", "bytes written to the SRAM banks (partial sums, outputs, data from DRAM)")
    accumulator_read_bytes: float = figure("B", "partial sums read from the columns' accumulator buffers, at "
                                           "accumulator width (0 without accumulators)")
    accumulator_write_bytes: float = figure("B", "partial sums written to the columns' accumulator buffers, at "
                                            "accumulator width (0 without accumulators)")
    decoder_lookups: float = figure("lookups", "codebook lookups (every stored entry, fillers included, each time "
                                    "a weight tile is loaded into the array)", show=Show("lookups", ">11,.0f"))
    events: int = figure("events", "SimPy events of the layer's pipeline (simulation effort, not hardware)")
    energy_dram_pj: float = figure("pJ", "DRAM read/write, activate/precharge, and background + refresh power "
                                   "over the layer's cycles")
    energy_sram_pj: float = figure("pJ", "SRAM bank reads and writes (bank-width accesses)")
    energy_accumulator_pj: float = figure("pJ", "accumulator-buffer reads and writes of partial sums (one entry each)")
    energy_decoder_pj: float = figure("pJ", "codebook lookups")
    energy_mac_pj: float = figure("pJ", "multiply-accumulates executed")
    energy_leakage_pj: float = figure("pJ", "SRAM, decoder, MAC-array and accumulator-buffer leakage over the layer's "
                                      "cycles")
    energy_total_pj: float = figure("pJ", "sum of the six energy columns above",
                                    show=Show("energy uJ", ">10,.2f", 1e-6))
    mac_utilisation_pct: float = figure("%", "macs_executed / (cycles x rows x cols): how busy the array is")
    dram_bandwidth_avg_gbps: float = figure("GB/s", "DRAM bytes over the layer's time (10^9 bytes per second)")
    dram_bandwidth_peak_gbps: float = figure("GB/s", "the busiest pipeline step's DRAM bytes over its duration")
    weights_sram_read_bytes: float = figure("B", "SRAM reads of the weight stream (codebook, indices, positions, biases)")
    weights_sram_write_bytes: float = figure("B", "SRAM writes of the weight stream (codebook, indices, positions, biases)")
    weights_dram_read_bytes: float = figure("B", "DRAM reads of the weight stream (codebook, indices, positions, biases)")
    weights_dram_write_bytes: float = figure("B", "DRAM writes of the weight stream (codebook, indices, positions, biases)")
    energy_weights_pj: float = figure("pJ", "SRAM accesses and DRAM reads/writes of the weight stream (codebook, indices, positions, biases) (DRAM activate/precharge "
                                   "and background power are not split by operand)")
    inputs_sram_read_bytes: float = figure("B", "SRAM reads of input activations")
    inputs_sram_write_bytes: float = figure("B", "SRAM writes of input activations")
    inputs_dram_read_bytes: float = figure("B", "DRAM reads of input activations")
    inputs_dram_write_bytes: float = figure("B", "DRAM writes of input activations")
    energy_inputs_pj: float = figure("pJ", "SRAM accesses and DRAM reads/writes of input activations (DRAM activate/precharge "
                                   "and background power are not split by operand)")
    psums_sram_read_bytes: float = figure("B", "SRAM reads of partial sums at accumulator width")
    psums_sram_write_bytes: float = figure("B", "SRAM writes of partial sums at accumulator width")
    psums_dram_read_bytes: float = figure("B", "DRAM reads of partial sums at accumulator width")
    psums_dram_write_bytes: float = figure("B", "DRAM writes of partial sums at accumulator width")
    energy_psums_pj: float = figure("pJ", "accumulator-buffer and SRAM accesses and DRAM reads/writes of partial sums at accumulator width (DRAM activate/precharge "
                                   "and background power are not split by operand)")
    outputs_sram_read_bytes: float = figure("B", "SRAM reads of final output activations")
    outputs_sram_write_bytes: float = figure("B", "SRAM writes of final output activations")
    outputs_dram_read_bytes: float = figure("B", "DRAM reads of final output activations")
    outputs_dram_write_bytes: float = figure("B", "DRAM writes of final output activations")
    energy_outputs_pj: float = figure("pJ", "SRAM accesses and DRAM reads/writes of final output activations (DRAM activate/precharge "
                                   "and background power are not split by operand)")


@dataclass(frozen=True)
class Design(Record):
    """What was designed and with which tool."""

    TITLE = "design"

    hardware: str = figure("", "hardware config name")
    model: str = figure("", "detector classifier (accelsim models)")
    plan: str = figure("", "compression plan name")
    accelsim_version: str = figure("", "version of accelsim that computed the figures")


@dataclass(frozen=True)
class AccuracyFigures(Record):
    """The detector's accuracy with exactly the decoded weights, in the hardware's number formats. Absent
    (None) when no dataset was evaluated."""

    TITLE = "accuracy"

    dataset: str = figure("", "dataset and split evaluated, e.g. synthetic(seed=0, split=test)")
    frames_evaluated: int = figure("frames", "frames the detector ran on")
    positives: int = figure("pedestrians", "ground-truth pedestrians the Caltech 'reasonable' protocol counts")
    miss_rate_lamr: float = figure("1", "log-average miss rate over 9 FPPI points in [1e-2, 1e0], Caltech "
                                   "'reasonable' (0.2 = 20%)")
    miss_rate_lamr_ci_low: float = figure("1", "lower end of the log-average miss rate's confidence interval "
                                          "(frame-level percentile bootstrap)")
    miss_rate_lamr_ci_high: float = figure("1", "upper end of that interval")
    confidence_level: float = figure("1", "confidence level of the interval (0.95 = 95%)")
    bootstrap_resamples: int = figure("resamples", "bootstrap resamples the interval is computed from")
    proposals_per_frame_measured: float = figure("proposals", "mean region proposals per frame on the evaluated "
                                                 "frames (the simulation runs this rounded, at least 1)")
    detections_per_frame: float = figure("detections", "mean detections per frame after NMS")
    number_formats: str = figure("", "number formats the classifier ran in (weights, activations, accumulators)")


@dataclass(frozen=True)
class FrameFigures(Record):
    """One simulated frame of the classifier on the accelerator: steady state (every frame after the first)
    and the cold first frame, which also loads the resident weights."""

    TITLE = "simulated frame"

    proposals_per_frame: int = figure("proposals", "proposals the simulated frame runs the classifier on")
    proposals_batch: int = figure("proposals", "proposals per weight pass")
    weight_passes_per_frame: int = figure("passes", "passes over all layers per frame")
    weights_resident: bool = figure("", "every layer's compressed weights stay in the SRAM's weight share")
    pinned_layers: tuple[str, ...] = figure("", "layers whose weights stay resident (a list; comma-joined in tables)")
    compressed_weight_bytes: int = figure("B", "stored weights of all layers (as layers' compressed_weight_bytes)")
    sram_bytes: int = figure("B", "on-chip SRAM: weight + input + output shares")
    sram_weight_bytes: int = figure("B", "the SRAM's weight share (resident weights and streaming buffers)")
    energy_per_frame_uj: float = figure("µJ", "energy of a steady-state frame (sum of the layers' energy_total_pj)")
    latency_per_frame_ms: float = figure("ms", "latency of a steady-state frame")
    frames_per_s: float = figure("frames/s", "1 / latency_per_frame_ms, running back to back")
    dram_bytes_per_frame: float = figure("B", "DRAM bytes read and written per steady-state frame")
    dram_weight_bytes_per_frame: float = figure("B", "of those, weight bytes (0 when every weight is resident)")
    roofline_bound_ms: float = figure("ms", "max(executed MACs / peak MAC rate, DRAM bytes / peak bandwidth): no "
                                      "latency can be lower")
    energy_dram_pj: float = figure("pJ", "DRAM energy of the frame (as the layers' energy_dram_pj, summed)")
    energy_sram_pj: float = figure("pJ", "SRAM energy of the frame")
    energy_accumulator_pj: float = figure("pJ", "accumulator-buffer energy of the frame (0 without accumulators)")
    energy_decoder_pj: float = figure("pJ", "codebook decoder energy of the frame")
    energy_mac_pj: float = figure("pJ", "MAC-array energy of the frame")
    energy_leakage_pj: float = figure("pJ", "leakage energy of the frame (paid while idle too)")
    dram_background_pj: float = figure("pJ", "of energy_dram_pj, DRAM background and refresh power over the "
                                       "frame's latency (paid while idle too)")
    area_mm2: float = figure("mm²", "on-chip SRAM, codebook decoders, MAC array and accumulator buffers, from the "
                             "config's tables (no interconnect or control)")
    sram_access_time_ns: float | None = figure(
        "ns", "access time of the slowest SRAM bank (address in to data out) from the SRAM table at the bank's "
        "size, width, ports and node (None: the table has no timing, e.g. horowitz-45nm; banks taken as single-cycle)")
    sram_cycle_time_ns: float | None = figure(
        "ns", "cycle time of that bank (shortest interval between two accesses) from the same table (None likewise)")
    sram_max_clock_mhz: float | None = figure(
        "MHz", "highest clock at which every SRAM access fits one cycle: 1000 / the longer of the two times (None "
        "likewise)")
    sram_access_cycles: int = figure(
        "cycles", "clock cycles one access holds its bank port at the configured clock: ceil(longer time x clock), "
        "at least 1; above 1 each bank port serves 1/k of a request per cycle and the bank-conflict stalls "
        "(conflict_cycles) include the wait")
    cold_frame_energy_uj: float = figure("µJ", "energy of the first frame, which also loads the resident weights")
    cold_frame_latency_ms: float = figure("ms", "latency of the first frame")
    cold_frame_dram_bytes: float = figure("B", "DRAM bytes of the first frame")
    cold_frame_extra_energy_uj: float = figure("µJ", "cold_frame_energy_uj - energy_per_frame_uj")
    cold_frame_extra_latency_ms: float = figure("ms", "cold_frame_latency_ms - latency_per_frame_ms")
    cold_frame_extra_dram_read_bytes: float = figure("B", "resident weights read once, in the first frame")


@dataclass(frozen=True)
class RunFacts(Record):
    """What this run did: which stages came from the cache and how long the rest took. Not part of a
    sweep's rows (they must be identical on every executor)."""

    TITLE = "this run"

    compression_cached: bool = figure("", "the compressed model was not computed in this run: it came from the "
                                      "cache, or from --compressed FILE")
    compression_wall_s: float = figure("s", "wall time this run spent compressing (0 when cached)")
    accuracy_cached: bool | None = figure("", "the accuracy came from the cache (None: no dataset)")
    eval_wall_s: float | None = figure("s", "wall time this run spent evaluating the detector (0 when cached, "
                                       "None: no dataset)")
    simulation_wall_s: float = figure("s", "wall time of the simulation")


@dataclass(frozen=True)
class DesignPointSummary(Record):
    """One design point: summary.json of `accelsim run`, one row of a sweep (without `RunFacts`)."""

    TITLE = "design point"

    design: Design
    accuracy: AccuracyFigures | None
    frame: FrameFigures
    run: RunFacts | None = None


@dataclass(frozen=True)
class CurvePoint(Record):
    """One point of the miss rate against false positives per image (miss_rate_curve.csv)."""

    TITLE = "miss-rate curve"

    score_threshold: float = figure("", "detections scoring at least this count")
    fppi: float = figure("1/frame", "false positives per image at this threshold")
    miss_rate: float = figure("1", "fraction of 'reasonable' pedestrians missed at this threshold")


@dataclass(frozen=True)
class SubsetRow(Record):
    """The miss rate on one subset of the evaluation (subsets.csv): a Caltech subset (dbEval v3.2.1's
    height, visibility and aspect ranges, every frame) or a condition of the frames (Caltech
    'reasonable' on the frames with that condition)."""

    TITLE = "subset"

    subset: str = figure("", "reasonable, all, scale=near|medium|far, occ=none|partial|heavy, or condition=value")
    subset_kind: str = figure("", "caltech (a ground-truth filter) or condition (a set of frames)")
    frames: int = figure("frames", "frames the subset's miss rate is over")
    positives: int = figure("pedestrians", "ground-truth pedestrians the subset counts")
    miss_rate_lamr: float | None = figure("1", "log-average miss rate on the subset (None without positives)")
    miss_rate_lamr_ci_low: float | None = figure("1", "lower end of its confidence interval")
    miss_rate_lamr_ci_high: float | None = figure("1", "upper end of its confidence interval")


@dataclass(frozen=True)
class TradeoffRow(Record):
    """One compression variant on one subset of `accelsim tradeoff` (tradeoff.csv), against the reference
    variant on the same frames."""

    TITLE = "trade-off"

    variant: str = figure("", "what the row is: dense, pruned, pruned + k clusters, the plan, fine-tuned")
    plan: str = figure("", "plan name of the variant (none for the dense model)")
    kept_fraction: float = figure("1", "weights kept after pruning")
    compressed_kib: float = figure("KiB", "stored size of the compressed model (dense fp32 for the dense row)")
    subset: SubsetRow  # the subset and the variant's miss rate on it
    reference: str = figure("", "the variant this row is compared with (the dense model in the same formats)")
    delta_vs_reference: float | None = figure("1", "miss rate minus the reference's, same frames (+0.02 = 2 "
                                              "points worse)")
    delta_ci_low: float | None = figure("1", "lower end of the paired bootstrap interval of that difference")
    delta_ci_high: float | None = figure("1", "upper end of that interval")
    distinguishable: bool | None = figure("", "the interval of the difference excludes 0 at the confidence level")
    confidence_level: float = figure("1", "confidence level of the intervals (0.95 = 95%)")
    dataset: str = figure("", "dataset and split evaluated")
    number_formats: str = figure("", "number formats the classifier ran in")


@dataclass(frozen=True)
class SweepPoint(Record):
    """Identity and status of a sweep's design point. In results.csv it is followed by the axis values
    (one column per axis, named by its path) and the `DesignPointSummary` fields."""

    TITLE = "sweep point"

    point_id: str = figure("", "stable id of the design point (hash of its axis values)")
    index: int = figure("", "position of the point in the sweep's expansion")
    status: str = figure("", "ok, or failed (error says why; the sweep went on)")
    error: str | None = figure("", "why the point failed (None when ok)")


@dataclass(frozen=True)
class SweepVerdict(Record):
    """What the sweep's analysis adds to each row (results.csv, pareto.csv)."""

    TITLE = "sweep verdict"

    power_mw: float | None = figure("mW", "average power at the operating frame rate (min_fps if set and reached, "
                                    "else frames_per_s): dynamic energy per frame x rate, plus leakage and DRAM "
                                    "background, paid while idle too")
    objective: float | None = figure("", "value of the objective the recommendation minimises (unit of its column)")
    feasible: bool = figure("", "meets every constraint")
    violations: str = figure("", "each failed constraint with both values and units, '; '-joined ('' when feasible)")
    violated: str = figure("", "names of the failed constraints, ','-joined (max_miss_rate, min_fps, max_power_mw, "
                           "max_sram_bytes, objective, failed)")


def design_point_columns() -> list[Column]:
    """The design point's columns as a sweep row holds them: everything but `RunFacts`, which describes
    one run, not the design (a sweep's rows are identical on every executor)."""
    run = set(RunFacts.names())
    return [c for c in DesignPointSummary.columns() if c.name not in run]


def sweep_columns() -> list[Column]:
    """results.csv and pareto.csv of a sweep, but for the axis columns, which follow `SweepPoint`'s."""
    return [*SweepPoint.columns(), *design_point_columns(), *SweepVerdict.columns()]
