"""wavenet_j: Wave-U-Net and the J-Net study of randomly weighted U-Nets, in TensorFlow 2 / Keras 3."""
__version__ = "0.1.0"
