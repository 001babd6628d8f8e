"""The explanation engine: attention and gradient-based maps for every read character.

Torch only; never imports Qt. Public entry points live in `saliency`
(`SaliencyGenerator`, `SaliencyConfig`, `Explanation`).
"""
