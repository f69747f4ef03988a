"""ecgrepro: a benchmarking and reproducibility suite for deep-learning ECG classification.

Importing the package is cheap on purpose: framework imports (torch, tensorflow, aeon,
sktime) live only in the modules that build or train models, so dry runs stay fast.
"""

__version__ = "0.1.0"
