"""The command line: ``firstlayer`` (inspect, report), the GPU check."""

from .main import main

__all__ = ["main"]
