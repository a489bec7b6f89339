from cachalot_publisher_tiktok.main import main

main()
