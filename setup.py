from setuptools import find_packages, setup

setup(
    name="wavenet_j",
    version="0.1.0",
    description="Wave-U-Net and the J-Net study of randomly weighted U-Nets, in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["wavenet_j", "wavenet_j.*"]),
    # The plain tensorflow wheel runs on a GPU where CUDA is installed; the "gpu" extra brings CUDA too.
    install_requires=[
        "tensorflow>=2.16",
        "tensorboard>=2.16",
        "soxr>=0.3",
        "keras>=3.3",
        "sacred>=0.8.4",
        "musdb>=0.4.2",
        "museval>=0.4.1",
        "librosa>=0.10",
        "soundfile>=0.12",
        "numpy>=1.26",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        "dev": ["pytest>=7.4", "ruff>=0.6"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
    },
    entry_points={"console_scripts": ["wavenet-j=wavenet_j.cli:main"]},
)
