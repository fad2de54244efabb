"""``python -m reference_impl`` (also ``meltproof gateway``): run the gateway (``cli.gateway``)."""

from .cli import gateway


if __name__ == "__main__":
    gateway(prog_name="python -m reference_impl")
