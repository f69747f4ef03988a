"""The k-NN job layer: checks, row blocks, scatter/gather, run directories, command line.

Imports the algorithm layer (:mod:`ecgrepro.knn.core`), never the other way round.
Nothing is imported here (the workflow imports :mod:`~ecgrepro.knn.jobs.blocks`
while it parses).
"""
