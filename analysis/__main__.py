import gc
import sys

from analysis.cli import main

status = main()
# The objects made so far leave the cyclic collector's reach: interpreter shutdown would otherwise
# run full collections over everything numpy, pyarrow and the command made (tens of ms of
# `evaluate`'s whole process). They are still freed by reference counting; atexit handlers run.
gc.freeze()
sys.exit(status)
