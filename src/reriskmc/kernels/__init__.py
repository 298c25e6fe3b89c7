"""Compiled kernels: importing a submodule compiles (or loads from cache) its functions.
The kernels see arrays and scalars only, never a config object."""
