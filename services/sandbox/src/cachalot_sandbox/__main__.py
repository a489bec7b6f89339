from cachalot_sandbox.main import main

main()
