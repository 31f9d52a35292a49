"""What a study proposes: the search space (the simplex of shares, its bounds and caps, the
training knobs and the filter thresholds searched beside it), the samplers by name, and the
surrogate sampler with the models it predicts scores by."""
