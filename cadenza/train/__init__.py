"""Training every neural family: the loop (``trainer``), checkpoints, ``torchrun`` DDP,
batches of token windows, and the JSB benchmarks. Import the submodules; importing this
package loads nothing heavy."""
