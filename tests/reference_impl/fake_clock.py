"""A clock for the gateway's policies that moves only when a test moves it."""


class FakeClock:
    """Seconds since an arbitrary origin; ``advance`` is the only way time passes."""

    def __init__(self, now_s: float = 1_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
