"""`python -m chargeflow ...`: the same command line as the `chargeflow` console script."""

from chargeflow.cli import entry_point

if __name__ == "__main__":
    entry_point()
