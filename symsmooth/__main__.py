from symsmooth.cli import main

main()
