"""Datasets: MUSDB18 / MUSDB18-HQ / CCMixter readers, the toy corpus, the cache and the tf.data pipeline."""
