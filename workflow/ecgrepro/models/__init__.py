"""Network definitions: one framework-free description per architecture, one file per framework.

Importing this package imports neither torch nor tensorflow; the framework files
(``lstm_fcn_torch``, ``lstm_fcn_keras``) do, and only they.
"""

from ecgrepro.models.lstm_fcn import LSTMFCNArch

__all__ = ["LSTMFCNArch"]
