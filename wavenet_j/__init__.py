"""wavenet_j: Wave-U-Net and the J-Net study of randomly weighted U-Nets, in TensorFlow 2 / Keras 3.

Importing the package loads nothing heavy; ``wavenet_j.models`` (imported by whatever builds or
loads a model) loads Keras and registers the custom layers that ``.keras`` files name.
"""

__version__ = "0.1.0"
