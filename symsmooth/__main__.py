import sys

from symsmooth.cli import main

main()
