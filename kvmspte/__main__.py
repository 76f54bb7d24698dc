from kvmspte.cli import main

main()
