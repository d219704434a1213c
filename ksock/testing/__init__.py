# Test aids frozen with the package so device tests can import them on every
# target. Nothing in the stack imports this package.
