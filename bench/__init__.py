"""copydesk's benchmarks: every figure is a ratio against a floor measured in the same run (`python -m bench`)."""
