from hpogrid.cli import main

main()
