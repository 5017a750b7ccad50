from services.filing.app import main

main()
