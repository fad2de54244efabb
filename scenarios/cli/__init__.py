"""The ``meltproof`` command line: the group here, each command (or family of commands) in
its own ``*_command`` module beside it (imported as a module where a command bears its
module's name, so ``scenarios.cli.compare_command`` stays the module); ``gateway`` and
``worker`` are the gateway's own."""

from __future__ import annotations

import click

from reference_impl.cli import gateway
from reference_impl.embedding_worker.cli import worker

from . import calibrate_command, compare_command, gate_command, matrix_command
from .canary_command import canary
from .demo_command import demo
from .fault_command import fault
from .images_command import images
from .load_command import load
from .run_command import check, run
from .scenario_command import scenario
from .up_command import up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="meltproof")
def main() -> None:
    """meltproof: prove that an AI gateway holds up under real load and real faults."""


main.add_command(up)
main.add_command(fault)
main.add_command(load)
main.add_command(run)
main.add_command(check)
main.add_command(demo)
main.add_command(compare_command.compare_command)
main.add_command(compare_command.ab_command)
main.add_command(compare_command.capacity_command)
main.add_command(matrix_command.matrix_command)
main.add_command(gate_command.gate_command)
main.add_command(calibrate_command.calibrate_command)
main.add_command(canary)
main.add_command(scenario)
main.add_command(gateway)
main.add_command(worker)
main.add_command(images)
