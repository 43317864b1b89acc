"""What is smoothed (non-smooth targets), with what (kernels), and the named catalog."""
