"""The explanation engine: attention and gradient-based maps for every read character.

Torch only; never imports Qt. Public entry points live in `saliency`
(`SaliencyGenerator`, `SaliencyConfig`, `Explanation`); the methods, with every fact
the app and the CLI show about them, in `methods` (`REGISTRY`, `register`), their
computations in `attributions`.
"""
