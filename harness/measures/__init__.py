"""The paper's measures: energy profiles, eq. 3 and its fit, C(delta), label statistics, the
first layer of any network measured. Knows nothing of training or verdicts."""
