from cachalot_publisher_instagram.main import main

main()
