from services.clearing.app import main

main()
