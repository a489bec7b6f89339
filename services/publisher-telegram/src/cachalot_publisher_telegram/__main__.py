from cachalot_publisher_telegram.main import main

main()
