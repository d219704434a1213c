# lib/fault-inject.c + /proc/self/fail-nth (Documentation/fault-injection):
# the N-th call to a fault-injection point fails, so a test can walk every
# allocation of an exchange and check that each failure ends in a clean errno.
# The points are the stack's allocations: skbs (dev.alloc_skb), pool chunks
# (sk_mem), ring slot tables, timers, socks, request socks and children.
# Off, a point costs one list read.
fail_nth = [0, 0]  # [the call that fails (0: off), calls counted since armed]


def should_fail():
    """Called by a point only while fail_nth[0] is set: True for the N-th call."""
    f = fail_nth
    f[1] += 1
    return f[1] == f[0]


def arm(n):
    """Fail the n-th point from now (a large n only counts them)."""
    fail_nth[0] = n
    fail_nth[1] = 0


def disarm():
    """Stop failing; returns how many points were met since arm()."""
    fail_nth[0] = 0
    return fail_nth[1]
