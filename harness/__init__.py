"""firstlayer: measure and explain what CNNs learn in the first layer (Chowers & Weiss, 2023).

Data flows one way, one subpackage a layer, lowest first: models -> data -> training -> config
-> measures -> verdicts -> report -> plugin -> cli, with the claims (claims/) on top.
"""
