"""Tables, verdicts and figures built from run directories.

Reads files only and never imports torch, tensorflow, aeon or sktime, so the report
rebuilds in a light environment from committed results.
"""
