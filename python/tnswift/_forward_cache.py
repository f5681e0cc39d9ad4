"""The threading rule for layers and activations, which keep their last forward's input for
backward: backward must run on the thread that made the last forward, so that two threads
sharing a layer cannot silently take gradients at each other's inputs."""

import threading

from ._ext import ArgumentError


def check_same_thread(forward_thread, who):
    if forward_thread != threading.get_ident():
        raise ArgumentError(
            f"{who}.backward() runs on another thread than the last forward(): the gradients would be "
            "taken at that other thread's input. Share a layer between threads for inference only, "
            "or make each forward/backward pair atomic (a lock, or one layer per thread)")
