from cachalot_publisher_vk.main import main

main()
