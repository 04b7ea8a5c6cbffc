"""Benchmarks, one script per measured claim (a package, so that a PyPI distribution
that ships a top-level ``benchmarks`` package cannot shadow these scripts' imports)."""
