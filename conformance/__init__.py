"""tensorcbor conformance suite: the vector generator (``python3 -m conformance.generate``)."""
