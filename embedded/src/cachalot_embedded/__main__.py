from cachalot_embedded.main import main

main()
