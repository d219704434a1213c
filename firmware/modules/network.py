# `import network` on firmware where ksock is the stack (frozen top-level module;
# a port's built-in `network`, where there is one, wins: ksock.run then puts
# ksock.network in sys.modules): network.LAN / network.WIZNET5K over ksock.
from ksock.network import *  # noqa: F401,F403
