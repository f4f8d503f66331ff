"""firstlayer: measure and explain what CNNs learn in the first layer (Chowers & Weiss, 2023).

Data flows one way: data -> models -> train -> runs (cache) -> spectra/theory/decorrelation
-> claims -> report.
"""
