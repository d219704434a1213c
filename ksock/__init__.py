# ksock: the Linux kernel's socket layer, re-done in MicroPython.
# Importing the package is cheap: subsystems load on first use.
__version__ = "0.1.0"
