"""Code that tests and benchmarks share (servers, synthetic data, fuzzing, deployment files).
Nothing in the product imports it, and the images leave it out."""
