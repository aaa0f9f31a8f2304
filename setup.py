from setuptools import find_packages, setup

setup(
    name="wavenet_j",
    version="0.1.0",
    description="Wave-U-Net and the J-Net study of randomly weighted U-Nets, in Keras 3 on any backend",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["wavenet_j", "wavenet_j.*"]),
    py_modules=["Config"],  # the Sacred ingredient cfg, importable as the original's Config.py was
    # TensorFlow is the default backend and the reference, and the only one that exports and reads TF1
    # checkpoints; "jax" and "torch" add the others. The plain tensorflow and torch wheels run on a GPU
    # where CUDA is installed ("gpu" brings CUDA for TensorFlow); "jax-cuda" is JAX on a CUDA GPU.
    install_requires=[
        "tensorflow>=2.16",
        "tensorboard>=2.16",
        "soxr>=0.3",
        "keras>=3.3",
        "sacred>=0.8.4",
        "setuptools>=41,<81",  # Sacred imports pkg_resources, which setuptools 81 and newer lack
        "musdb>=0.4.2",
        "museval>=0.4.1",
        "stempeg>=0.2.3",  # MUSDB18's .stem.mp4 files
        "librosa>=0.10",
        "soundfile>=0.12",
        "numpy>=1.26",
        "scipy>=1.10",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "h5py>=3.7",  # checkpoints under JAX and PyTorch: Keras weight files with the run's state
    ],
    extras_require={
        "dev": ["pytest>=7.4", "ruff>=0.6"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        "jax": ["jax>=0.8"],  # jax.enable_x64 as a context manager
        "jax-cuda": ["jax[cuda12]>=0.8"],
        "torch": ["torch>=2.1"],
    },
    entry_points={"console_scripts": ["wavenet-j=wavenet_j.cli:main"]},
)
