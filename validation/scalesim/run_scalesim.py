"""Run SCALE-Sim on one layer of one design point (executed by SCALE-Sim's own interpreter).

    /work/venvs/scalesim/bin/python validation/scalesim/run_scalesim.py 32x32-ws conv1 OUTDIR
    /work/venvs/scalesim/bin/python validation/scalesim/run_scalesim.py 227-32x32-is conv2 OUTDIR

Uses SCALE-Sim's own API (``scalesim.scale_sim.scalesim``) exactly as its ``scale.py`` does, except
that traces are not written (``save_disk_space=True``): the per-cycle SRAM/DRAM trace CSVs of a
full layer are gigabytes and the comparison needs only the three report CSVs, which are the same
either way. Reports land in OUTDIR/<design>/. The design's workload picks the topology
(designs.Design.topology_path: ``inputs/topology-<layer>.csv`` for the grouped DeepPed layers,
``inputs/topology-227-<layer>.csv`` for ungrouped AlexNet-227).
"""

import sys
import time
from pathlib import Path

from scalesim.scale_sim import scalesim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from designs import DESIGN_BY_NAME  # noqa: E402  (standard library only)


def main() -> None:
    design, layer, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    d = DESIGN_BY_NAME[design]
    sim = scalesim(save_disk_space=True, verbose=True, config=str(d.cfg_path()),
                   topology=str(d.topology_path(layer)), layout=str(d.layout_path(layer)))
    t0 = time.perf_counter()
    sim.run_scale(top_path=str(out))
    print(f"SCALESIM_RUN_WALL_S {time.perf_counter() - t0:.3f}", flush=True)


if __name__ == "__main__":
    main()
