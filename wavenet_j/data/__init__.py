"""Datasets: MUSDB18 / MUSDB18-HQ / CCMixter readers, the toy corpus, the cache and the batches (NumPy,
the same on every backend; tf.data under TensorFlow)."""
