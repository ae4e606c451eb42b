"""The accelerator model: component models (DRAM and SRAM Numba kernels, codebook decoders, MAC array)
that the SimPy engine composes tile by tile, over each layer's weight stream as its stream profile
describes it."""
