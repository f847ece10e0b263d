"""Stand-ins for the entry points that SageMaker's built-in algorithm images run.

A training request with an algorithm image and no ``sagemaker_program`` runs the
image's own algorithm. Without the image, smsim runs one of these files instead, as a
script (``<interpreter> <file>``), so each imports nothing from smsim and runs under
any interpreter the images map gives the image. Which file serves which image is in
:mod:`simulator.images` (``builtin_algorithm``).
"""
