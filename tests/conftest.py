# Test layout: device/ = MicroPython code run on the target (one item per test);
# host/ = CPython tests (hypothesis on ksock, differential, network integration);
# bench/ = `make bench`, not collected.
collect_ignore = ["bench"]
