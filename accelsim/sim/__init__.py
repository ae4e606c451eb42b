"""The accelerator model: component models and Numba kernels (DRAM, SRAM, sparse position streams,
decoders, MAC array) that the SimPy engine composes, tile by tile."""
