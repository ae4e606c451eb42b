"""accelsim: hardware co-design simulator for compressed embedded pedestrian detectors.

Data flows one way: config -> compression -> workload -> simulation -> results -> report.
"""

__version__ = "0.1.0"
