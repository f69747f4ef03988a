"""Network definitions: one framework-free description per architecture, and its builders.

``registry`` maps each model family to its description and names the function that
builds it in PyTorch and in Keras (``python -m ecgrepro.models list`` shows them all).
Importing this package imports neither torch nor tensorflow; the builders (the
``*_torch``/``*_keras`` files, or functions that import their framework when called)
do, and only they.
"""

from ecgrepro.models.lstm_fcn import LSTMFCNArch

__all__ = ["LSTMFCNArch"]
