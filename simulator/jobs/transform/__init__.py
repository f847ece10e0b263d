"""Batch transform jobs: checks, description, run (CreateTransformJob → DescribeTransformJob)."""
