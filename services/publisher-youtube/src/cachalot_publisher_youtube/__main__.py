from cachalot_publisher_youtube.main import main

main()
