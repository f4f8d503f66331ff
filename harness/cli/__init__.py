"""The command line: ``firstlayer`` (inspect, report; ``harness.cli.main``), the GPU check
(``python -m harness.cli.gpucheck``)."""
