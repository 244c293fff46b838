from probtalk.cli.main import main

main()
