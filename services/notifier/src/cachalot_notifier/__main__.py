from cachalot_notifier.main import main

main()
