"""Synthetic handwriting, training and evaluation of the bundled readers.

Nothing here runs inside the app: it needs the Debian handwriting fonts (see
`resources/models/README.md`) and CPU time. The app only loads what it wrote.
"""
