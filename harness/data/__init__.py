"""The one door to data: dataset copies decoded once, subsets, labels and input variants, and the
patch PCA they rest on. Knows nothing of training or verdicts."""
