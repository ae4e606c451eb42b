"""A design point as a pipeline of stages, each a module with typed input and output:

    compression  (CompressionRequest -> Compressed)       cached
    workload     (accelsim.workload.build_workload)
    accuracy     (AccuracyRequest -> Evaluated)            cached
    simulation   (Target, layers, proposals -> Simulated)
    results      (-> DesignPointResult, run folder files)

`design_point.run_design_point` composes them for `accelsim run`; `accelsim tradeoff` and the sweep
runner compose the same stages their own way. A new stage (a report) is a new module here.
"""
