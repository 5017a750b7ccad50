from services.collab.app import main

main()
